"""orders: the active-query schedule (next_query_at, query_attempts, query_nudged_at)

The worker asks the gateway about due orders by ix_orders_next_query, a
partial index that holds only unpaid/expired orders with a query ahead: a paid
order leaves it by its status change. It replaces the sweep by creation time.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("next_query_at", sa.DateTime(timezone=True)))
    op.add_column(
        "orders",
        sa.Column("query_attempts", sa.SmallInteger(), server_default="0", nullable=False),
    )
    op.add_column("orders", sa.Column("query_nudged_at", sa.DateTime(timezone=True)))
    op.drop_index("ix_orders_awaiting_payment", table_name="orders")
    op.create_index(
        "ix_orders_next_query",
        "orders",
        ["next_query_at"],
        unique=False,
        postgresql_where=sa.text("next_query_at IS NOT NULL AND status IN ('unpaid', 'expired')"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_next_query", table_name="orders")
    op.create_index(
        "ix_orders_awaiting_payment",
        "orders",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('unpaid', 'expired')"),
    )
    op.drop_column("orders", "query_nudged_at")
    op.drop_column("orders", "query_attempts")
    op.drop_column("orders", "next_query_at")
