"""receipt_mails, orders.locale, and the trigger that defers a receipt job

A receipt is asked for by the timeline event that calls for it (created; the
goods delivered, topped up or handed over by an operator; a refund that went
through), for orders whose contact is an e-mail address. The trigger defers the
procrastinate job inside the transaction that appended the event, whatever
path appended it (the paid notify's single statement included), so a receipt
job exists if and only if its cause committed. The job (kameng.receipts.tasks)
re-reads everything and decides; the trigger only filters the obvious.

The values are written out: a migration must not change when the code does.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECEIPT_EVENTS = ("created", "delivered", "topped_up", "manual_delivered", "refund_succeeded")
TASK = "receipts.send"
QUEUE = "mail"
# Loose on purpose (the job checks the address properly): something@something.something.
LOOKS_LIKE_EMAIL = "^[^@[:space:]]+@[^@[:space:]]+[.][^@[:space:]]+$"

TRIGGER_FUNCTION = f"""
CREATE FUNCTION order_events_receipt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM orders WHERE id = NEW.order_id AND contact ~ '{LOOKS_LIKE_EMAIL}') THEN
        PERFORM procrastinate_defer_jobs_v1(ARRAY[ROW(
            '{QUEUE}', '{TASK}', 0, NULL, NULL,
            jsonb_build_object('event_id', NEW.id), NULL
        )::procrastinate_job_to_defer_v1]);
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.add_column("orders", sa.Column("locale", sa.String(length=8), nullable=True))
    op.create_check_constraint(
        op.f("ck_orders_known_locale"), "orders", "locale IN ('zh_CN', 'en')"
    )
    op.create_table(
        "receipt_mails",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=120), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('created', 'delivered', 'refunded')",
            name=op.f("ck_receipt_mails_known_kind"),
        ),
        sa.CheckConstraint(
            "state IN ('sending', 'sent', 'failed')", name=op.f("ck_receipt_mails_known_state")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_receipt_mails_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["order_events.id"], name=op.f("fk_receipt_mails_event_id_order_events")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_receipt_mails_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_mails")),
        sa.UniqueConstraint("event_id", name=op.f("uq_receipt_mails_event_id")),
    )
    op.create_index("ix_receipt_mails_order", "receipt_mails", ["order_id"])
    op.execute(TRIGGER_FUNCTION)
    types = ", ".join(f"'{t}'" for t in RECEIPT_EVENTS)
    op.execute(
        "CREATE TRIGGER order_events_receipt AFTER INSERT ON order_events FOR EACH ROW "
        f"WHEN (NEW.type IN ({types})) EXECUTE FUNCTION order_events_receipt()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER order_events_receipt ON order_events")
    op.execute("DROP FUNCTION order_events_receipt()")
    op.drop_index("ix_receipt_mails_order", table_name="receipt_mails")
    op.drop_table("receipt_mails")
    op.drop_constraint(op.f("ck_orders_known_locale"), "orders")
    op.drop_column("orders", "locale")
