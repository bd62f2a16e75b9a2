"""refunds, with the cap kept by the database; surplus payments; refund event words

The trigger keeps payments.refunds_claimed_cents equal to the sum of the
payment's refunds in any state but 'given_up'; the CHECK on payments bounds it
by amount_cents. A plain CHECK on refunds cannot see the other rows; a guarded
INSERT ... SELECT in code would not stop a direct INSERT. The trigger's UPDATE
takes the payment row's lock, so two concurrent refunds of one payment are
counted one after the other.

The values are written out: a migration must not change when the code does.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_EVENT_TYPES = (
    "created",
    "paid",
    "expired",
    "awaiting_stock",
    "partially_delivered",
    "delivered",
    "second_payment",
)
EVENT_TYPES = (
    *OLD_EVENT_TYPES,
    "refund_requested",
    "refund_submitted",
    "refund_succeeded",
    "refund_failed",
    "refund_given_up",
)
OLD_ACTORS = ("buyer", "system", "gateway")
ACTORS = (*OLD_ACTORS, "operator")
STATES = ("requested", "submitted", "succeeded", "failed", "given_up")

TRIGGER_FUNCTION = """
CREATE FUNCTION refunds_keep_claimed_total() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.payment_id = NEW.payment_id
       AND OLD.amount_cents = NEW.amount_cents
       AND (OLD.state = 'given_up') = (NEW.state = 'given_up') THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state <> 'given_up' THEN
        UPDATE payments SET refunds_claimed_cents = refunds_claimed_cents - OLD.amount_cents
        WHERE id = OLD.payment_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.state <> 'given_up' THEN
        UPDATE payments SET refunds_claimed_cents = refunds_claimed_cents + NEW.amount_cents
        WHERE id = NEW.payment_id;
    END IF;
    RETURN NULL;
END
$$
"""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_check(table: str, name: str, condition: str) -> None:
    op.drop_constraint(op.f(name), table)
    op.create_check_constraint(op.f(name), table, condition)


def upgrade() -> None:
    op.add_column(
        "payments",
        sa.Column("surplus", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "payments",
        sa.Column(
            "refunds_claimed_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
    )
    op.create_check_constraint(
        op.f("ck_payments_refunds_within_paid"),
        "payments",
        "refunds_claimed_cents BETWEEN 0 AND amount_cents",
    )
    op.drop_constraint("uq_payments_order_id", "payments", type_="unique")
    op.create_index("ix_payments_order_id", "payments", ["order_id"])
    op.create_index(
        "uq_payments_order_id_paying",
        "payments",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("NOT surplus"),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("refund_no", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gateway_refund_no", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_refunds_attempts_not_negative")),
        sa.CheckConstraint(_in("state", STATES), name=op.f("ck_refunds_known_state")),
        sa.CheckConstraint(_in("actor", ACTORS), name=op.f("ck_refunds_known_actor")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_refunds_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("refund_no", name=op.f("uq_refunds_refund_no")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refunds_idempotency_key")),
    )
    op.create_index("ix_refunds_order", "refunds", ["order_id"])
    op.create_index(
        "ix_refunds_due",
        "refunds",
        ["next_attempt_at"],
        postgresql_where=sa.text("state IN ('requested', 'failed')"),
    )
    op.create_index(
        "ix_refunds_submitted",
        "refunds",
        ["updated_at"],
        postgresql_where=sa.text("state = 'submitted'"),
    )
    op.execute(TRIGGER_FUNCTION)
    op.execute(
        "CREATE TRIGGER refunds_keep_claimed_total "
        "AFTER INSERT OR DELETE OR UPDATE OF payment_id, amount_cents, state ON refunds "
        "FOR EACH ROW EXECUTE FUNCTION refunds_keep_claimed_total()"
    )
    _replace_check("order_events", "ck_order_events_known_type", _in("type", EVENT_TYPES))
    _replace_check("order_events", "ck_order_events_known_actor", _in("actor", ACTORS))


def downgrade() -> None:
    _replace_check("order_events", "ck_order_events_known_actor", _in("actor", OLD_ACTORS))
    _replace_check("order_events", "ck_order_events_known_type", _in("type", OLD_EVENT_TYPES))
    op.drop_table("refunds")
    op.execute("DROP FUNCTION refunds_keep_claimed_total()")
    op.drop_index("uq_payments_order_id_paying", table_name="payments")
    op.drop_index("ix_payments_order_id", table_name="payments")
    op.create_unique_constraint("uq_payments_order_id", "payments", ["order_id"])
    op.drop_constraint(op.f("ck_payments_refunds_within_paid"), "payments")
    op.drop_column("payments", "refunds_claimed_cents")
    op.drop_column("payments", "surplus")
