"""index recent unpaid/expired orders by creation time (主动查单 sweep)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_awaiting_payment",
        "orders",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('unpaid', 'expired')"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_awaiting_payment", table_name="orders")
