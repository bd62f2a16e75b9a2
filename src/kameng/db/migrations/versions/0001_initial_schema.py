"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 12:17:56.921727
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE card_key_pool_seq")
    op.create_table(
        "products",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("max_quantity", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint("kind IN ('card_key')", name=op.f("ck_products_known_kind")),
        sa.CheckConstraint(
            "max_quantity BETWEEN 1 AND 1000", name=op.f("ck_products_max_quantity_range")
        ),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_products_price_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),
    )
    op.create_table(
        "orders",
        sa.Column("order_no", sa.String(length=16), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("contact", sa.String(length=120), nullable=True),
        sa.Column("query_password_hash", sa.Text(), nullable=True),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("delivered_quantity", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint("order_no ~ '^[1-9][0-9]{15}$'", name=op.f("ck_orders_order_no_format")),
        sa.CheckConstraint(
            "status IN ('unpaid', 'expired', 'paid', 'awaiting_stock', 'delivered')",
            name=op.f("ck_orders_known_status"),
        ),
        sa.CheckConstraint(
            "amount_cents = unit_price_cents * quantity", name=op.f("ck_orders_amount_consistent")
        ),
        sa.CheckConstraint(
            "delivered_quantity BETWEEN 0 AND quantity",
            name=op.f("ck_orders_delivered_within_quantity"),
        ),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_orders_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_orders_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("order_no", name=op.f("uq_orders_order_no")),
    )
    op.create_index(
        "ix_orders_awaiting_stock",
        "orders",
        ["product_id", "paid_at"],
        unique=False,
        postgresql_where=sa.text("status = 'awaiting_stock'"),
    )
    op.create_index(
        "ix_orders_unpaid_expiry",
        "orders",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'unpaid'"),
    )
    op.create_table(
        "card_keys",
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "pool_seq",
            sa.BigInteger(),
            server_default=sa.text("nextval('card_key_pool_seq')"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=12), server_default="available", nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("slot", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sold_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint(
            "(status = 'sold') = (order_id IS NOT NULL AND slot IS NOT NULL)",
            name=op.f("ck_card_keys_sold_iff_owned"),
        ),
        sa.CheckConstraint(
            "status IN ('available', 'sold')", name=op.f("ck_card_keys_known_status")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_card_keys_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_card_keys_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_keys")),
        sa.UniqueConstraint("order_id", "slot", name=op.f("uq_card_keys_order_id_slot")),
        sa.UniqueConstraint(
            "product_id", "fingerprint", name=op.f("uq_card_keys_product_id_fingerprint")
        ),
    )
    op.create_index(
        "ix_card_keys_pool",
        "card_keys",
        ["product_id", "pool_seq"],
        unique=False,
        postgresql_where=sa.text("status = 'available'"),
    )
    op.create_table(
        "order_events",
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_events_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    op.create_index("ix_order_events_order", "order_events", ["order_id", "id"], unique=False)
    op.create_table(
        "payment_notifies",
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("http_method", sa.String(length=8), nullable=False),
        sa.Column("raw_query", sa.Text(), nullable=False),
        sa.Column("raw_body", sa.Text(), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("out_trade_no", sa.String(length=64), nullable=True),
        sa.Column("trade_no", sa.String(length=64), nullable=True),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payment_notifies_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_notifies")),
    )
    op.create_index(
        "ix_payment_notifies_out_trade_no", "payment_notifies", ["out_trade_no"], unique=False
    )
    op.create_index("ix_payment_notifies_trade_no", "payment_notifies", ["trade_no"], unique=False)
    op.create_table(
        "payments",
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("trade_no", sa.String(length=64), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payments_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("gateway", "trade_no", name=op.f("uq_payments_gateway_trade_no")),
        sa.UniqueConstraint("order_id", name=op.f("uq_payments_order_id")),
    )
    # The timeline is append-only: history is never rewritten, whatever the code does.
    op.execute(
        """
        CREATE FUNCTION order_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'order_events is append-only (% refused)', TG_OP;
        END $$;
        CREATE TRIGGER order_events_append_only BEFORE UPDATE OR DELETE ON order_events
            FOR EACH ROW EXECUTE FUNCTION order_events_append_only();
        """
    )
    # procrastinate's job tables, from the SQL it ships: one migration history.
    # Sent through the driver without parameters: the SQL holds literal % signs.
    op.get_bind().connection.driver_connection.execute(  # type: ignore[union-attr]
        SchemaManager.get_schema()
    )


def downgrade() -> None:
    raise NotImplementedError("the initial schema is not reversible; drop the database")
