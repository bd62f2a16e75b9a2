"""payment_notifies.raw_headers: WeChat Pay signs headers, keep them with the body

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payment_notifies", sa.Column("raw_headers", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("payment_notifies", "raw_headers")
