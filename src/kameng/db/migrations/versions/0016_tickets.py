"""tickets: buyers' support tickets and their messages; ticket events on the timeline

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_EVENT_TYPES = (
    "created", "paid", "expired", "awaiting_stock", "partially_delivered", "delivered",
    "second_payment", "refund_requested", "refund_submitted", "refund_succeeded",
    "refund_failed", "refund_given_up", "fulfilling", "sent_to_supplier", "supplier_slow",
    "supplier_switched", "supplier_waiting", "topped_up", "fulfilment_failed", "escalated",
    "awaiting_operator", "manual_delivered",
)  # fmt: skip
EVENT_TYPES = (*OLD_EVENT_TYPES, "ticket_opened", "ticket_replied", "ticket_closed")


def _event_check(values: tuple[str, ...]) -> None:
    name = op.f("ck_order_events_known_type")
    op.drop_constraint(name, "order_events", type_="check")
    op.create_check_constraint(
        name, "order_events", f"type IN ({', '.join(repr(v) for v in values)})"
    )


def upgrade() -> None:
    _event_check(EVENT_TYPES)
    op.create_table(
        "tickets",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_no", sa.String(length=14), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=24), nullable=True),
        sa.Column("cause_text", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ticket_no ~ '^T[1-9][0-9]{12}$'", name=op.f("ck_tickets_ticket_no_format")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'answered', 'closed')", name=op.f("ck_tickets_known_status")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_tickets_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("ticket_no", name=op.f("uq_tickets_ticket_no")),
    )
    op.create_index("ix_tickets_order", "tickets", ["order_id"], unique=False)
    op.create_index("ix_tickets_status", "tickets", ["status", "created_at"], unique=False)
    op.create_table(
        "ticket_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "author IN ('buyer', 'operator')", name=op.f("ck_ticket_messages_known_author")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_messages_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_messages")),
    )
    op.create_index(
        "ix_ticket_messages_ticket", "ticket_messages", ["ticket_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_messages_ticket", table_name="ticket_messages")
    op.drop_table("ticket_messages")
    op.drop_index("ix_tickets_status", table_name="tickets")
    op.drop_index("ix_tickets_order", table_name="tickets")
    op.drop_table("tickets")
    _event_check(OLD_EVENT_TYPES)
