"""notices: operators' announcements with a time window and a scope

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("text_zh", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scope IN ('all', 'product', 'supplier', 'channel')",
            name=op.f("ck_notices_known_scope"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_notices_window_forward")),
        sa.CheckConstraint(
            "(scope = 'all') = (target IS NULL)", name=op.f("ck_notices_target_by_scope")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    op.create_index("ix_notices_ends_at", "notices", ["ends_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_notices_ends_at", table_name="notices")
    op.drop_table("notices")
