"""notify_nonces: replayed WeChat Pay notifies are refused by every process

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notify_nonces",
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_nonces")),
        sa.UniqueConstraint("gateway", "nonce", name=op.f("uq_notify_nonces_gateway_nonce")),
    )
    op.create_index("ix_notify_nonces_expires_at", "notify_nonces", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_notify_nonces_expires_at", table_name="notify_nonces")
    op.drop_table("notify_nonces")
