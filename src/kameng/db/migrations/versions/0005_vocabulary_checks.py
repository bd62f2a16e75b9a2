"""CHECK the timeline's event types and actors and the notify verdicts

The values are the members of the StrEnums in kameng.models.vocabulary at
this revision, written out: a migration must not change when the code does.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 21:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_TYPES = (
    "created",
    "paid",
    "expired",
    "awaiting_stock",
    "partially_delivered",
    "delivered",
    "second_payment",
)
ACTORS = ("buyer", "system", "gateway")
VERDICTS = (
    "accepted",
    "accepted_late",
    "duplicate",
    "second_payment",
    "bad_signature",
    "wrong_merchant",
    "stale_timestamp",
    "replayed_nonce",
    "malformed",
    "not_paid",
    "unknown_gateway",
    "unknown_order",
    "gateway_mismatch",
    "amount_mismatch",
    "trade_no_reused",
    "error",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_check_constraint(
        op.f("ck_order_events_known_type"), "order_events", _in("type", EVENT_TYPES)
    )
    op.create_check_constraint(
        op.f("ck_order_events_known_actor"), "order_events", _in("actor", ACTORS)
    )
    op.create_check_constraint(
        op.f("ck_payment_notifies_known_verdict"), "payment_notifies", _in("verdict", VERDICTS)
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_payment_notifies_known_verdict"), "payment_notifies")
    op.drop_constraint(op.f("ck_order_events_known_actor"), "order_events")
    op.drop_constraint(op.f("ck_order_events_known_type"), "order_events")
