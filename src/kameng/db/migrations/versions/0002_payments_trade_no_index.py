"""index payments by trade number alone (lookup by 支付宝/微信 交易号)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_payments_trade_no", "payments", ["trade_no"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_payments_trade_no", table_name="payments")
