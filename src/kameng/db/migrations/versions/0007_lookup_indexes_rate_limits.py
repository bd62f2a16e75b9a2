"""lookup: index sold card keys by fingerprint, orders by contact; rate_limits table

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_card_keys_sold_fingerprint",
        "card_keys",
        ["fingerprint"],
        unique=False,
        postgresql_where=sa.text("order_id IS NOT NULL"),
    )
    op.create_index(
        "ix_orders_contact",
        "orders",
        [sa.text("lower(contact)"), sa.text("created_at DESC")],
        unique=False,
        postgresql_where=sa.text("contact IS NOT NULL"),
    )
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
    op.drop_index("ix_orders_contact", table_name="orders")
    op.drop_index("ix_card_keys_sold_fingerprint", table_name="card_keys")
