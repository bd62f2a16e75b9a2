"""index the raw notifies the retention purge may delete

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 22:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_payment_notifies_purgeable",
        "payment_notifies",
        ["received_at"],
        postgresql_where=sa.text("verdict NOT IN ('accepted', 'accepted_late', 'second_payment')"),
    )


def downgrade() -> None:
    op.drop_index("ix_payment_notifies_purgeable", table_name="payment_notifies")
