"""ticket follow-ups: the buyer's further messages on a ticket (event ticket_followed_up)

The messages themselves go to ticket_messages (author buyer), as the first one
does; the order's timeline only says that one was added (never its words). The
CHECK values are the vocabulary's members at this revision, written out.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 03:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
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
    "refund_requested",
    "refund_submitted",
    "refund_succeeded",
    "refund_failed",
    "refund_given_up",
    "fulfilling",
    "sent_to_supplier",
    "supplier_slow",
    "supplier_switched",
    "supplier_waiting",
    "topped_up",
    "fulfilment_failed",
    "escalated",
    "awaiting_operator",
    "manual_delivered",
    "ticket_opened",
    "ticket_replied",
    "ticket_closed",
    "risk_held",
    "review_approved",
    "review_rejected",
)
EVENT_TYPES = (*OLD_EVENT_TYPES, "ticket_followed_up")
NAME = "ck_order_events_known_type"


def _event_check(values: tuple[str, ...]) -> None:
    op.drop_constraint(op.f(NAME), "order_events", type_="check")
    op.create_check_constraint(
        op.f(NAME), "order_events", f"type IN ({', '.join(repr(v) for v in values)})"
    )


def upgrade() -> None:
    _event_check(EVENT_TYPES)


def downgrade() -> None:
    # Refused while such events exist: the timeline is append-only (0001).
    _event_check(OLD_EVENT_TYPES)
