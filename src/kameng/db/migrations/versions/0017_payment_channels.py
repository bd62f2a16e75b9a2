"""payment_channels: gateways configured in the database; a version counter

Every change to payment_channels bumps payment_channels_version.version (and
sends NOTIFY payment_channels), so every process can tell by one read whether
the channels it holds are still current.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("epay_v1", "epay_v2", "alipay", "wechatpay_v3")


def upgrade() -> None:
    kinds = ", ".join(f"'{k}'" for k in KINDS)
    op.create_table(
        "payment_channels",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("label_zh", sa.Text(), nullable=False),
        sa.Column("label_en", sa.Text(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("settings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("secrets_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "name ~ '^[a-z0-9_-]{1,32}$'", name=op.f("ck_payment_channels_name_format")
        ),
        sa.CheckConstraint(f"kind IN ({kinds})", name=op.f("ck_payment_channels_known_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_payment_channels_name")),
    )
    op.create_table(
        "payment_channels_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_payment_channels_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_channels_version")),
    )
    op.execute(
        """
        CREATE FUNCTION payment_channels_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- The row appears with the first change (a migration seeds no data).
            INSERT INTO payment_channels_version AS v (id, version) VALUES (1, 1)
                ON CONFLICT (id) DO UPDATE SET version = v.version + 1;
            PERFORM pg_notify('payment_channels', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER payment_channels_bump
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON payment_channels
            FOR EACH STATEMENT EXECUTE FUNCTION payment_channels_bump();
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER payment_channels_bump ON payment_channels; "
        "DROP FUNCTION payment_channels_bump();"
    )
    op.drop_table("payment_channels_version")
    op.drop_table("payment_channels")
