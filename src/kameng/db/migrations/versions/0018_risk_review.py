"""risk review: orders held for review (status under_review, three events), risk_rules

The CHECK values are the vocabulary's members at this revision, written out.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 00:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = (
    "unpaid",
    "expired",
    "paid",
    "awaiting_stock",
    "delivered",
    "fulfilling",
    "awaiting_operator",
    "failed",
)
STATUSES = (*OLD_STATUSES, "under_review")
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
)
EVENT_TYPES = (*OLD_EVENT_TYPES, "risk_held", "review_approved", "review_rejected")
CHECKS = (
    ("orders", "ck_orders_known_status", "status"),
    ("order_events", "ck_order_events_known_type", "type"),
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_checks(values: tuple[tuple[str, ...], ...]) -> None:
    for (table, name, column), allowed in zip(CHECKS, values, strict=True):
        op.drop_constraint(op.f(name), table, type_="check")
        op.create_check_constraint(op.f(name), table, _in(column, allowed))


def upgrade() -> None:
    _replace_checks((STATUSES, EVENT_TYPES))
    op.create_table(
        "risk_rules",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("above_cents", sa.BigInteger(), nullable=True),
        sa.Column("contact_max", sa.Integer(), nullable=True),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("review_sla_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_risk_rules_single_row")),
        sa.CheckConstraint(
            "above_cents IS NULL OR above_cents > 0", name=op.f("ck_risk_rules_above_positive")
        ),
        sa.CheckConstraint(
            "contact_max IS NULL OR contact_max > 0",
            name=op.f("ck_risk_rules_contact_max_positive"),
        ),
        sa.CheckConstraint(
            "window_seconds > 0 AND review_sla_seconds > 0",
            name=op.f("ck_risk_rules_times_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_rules")),
    )


def downgrade() -> None:
    op.drop_table("risk_rules")
    _replace_checks((OLD_STATUSES, OLD_EVENT_TYPES))
