from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin
from kameng.models.vocabulary import (
    Actor,
    OrderEventType,
    OrderStatus,
    known_values,
    sql_values,
)

_UNPAID = f"status = '{OrderStatus.UNPAID}'"
_AWAITING_PAYMENT = f"status IN ({sql_values(OrderStatus.UNPAID, OrderStatus.EXPIRED)})"
_AWAITING_STOCK = f"status = '{OrderStatus.AWAITING_STOCK}'"


class Order(IdMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("order_no ~ '^[1-9][0-9]{15}$'", name="order_no_format"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("amount_cents = unit_price_cents * quantity", name="amount_consistent"),
        known_values("status", OrderStatus, name="known_status"),
        CheckConstraint("locale IN ('zh_CN', 'en')", name="known_locale"),
        CheckConstraint(
            "delivered_quantity BETWEEN 0 AND quantity", name="delivered_within_quantity"
        ),
        # The expiry sweeper and the restock queue read only these rows.
        Index("ix_orders_unpaid_expiry", "expires_at", postgresql_where=text(_UNPAID)),
        # 主动查单: the worker reads due orders by this index; a paid order
        # leaves it by its status change alone.
        Index(
            "ix_orders_next_query",
            "next_query_at",
            postgresql_where=text(f"next_query_at IS NOT NULL AND {_AWAITING_PAYMENT}"),
        ),
        Index(
            "ix_orders_awaiting_stock",
            "product_id",
            "paid_at",
            postgresql_where=text(_AWAITING_STOCK),
        ),
        # The deadline sweep reads only orders with a deadline ahead.
        Index(
            "ix_orders_next_deadline",
            "next_deadline_at",
            postgresql_where=text("next_deadline_at IS NOT NULL"),
        ),
        # Lookup by contact + query password, newest first.
        Index(
            "ix_orders_contact",
            text("lower(contact)"),
            text("created_at DESC"),
            postgresql_where=text("contact IS NOT NULL"),
        ),
    )

    order_no: Mapped[str] = mapped_column(String(16), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    contact: Mapped[str | None] = mapped_column(String(120))
    query_password_hash: Mapped[str | None] = mapped_column(Text)
    gateway: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24))
    delivered_quantity: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # Next SLA deadline (escalate, then refund); None when nothing is due.
    next_deadline_at: Mapped[datetime | None]
    # 主动查单 schedule (kameng.payments.active_query): when the gateway is asked
    # next (None: not started, or over), how often it was asked, and when a
    # buyer's visit last pulled the query forward (the debounce).
    next_query_at: Mapped[datetime | None]
    query_attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    query_nudged_at: Mapped[datetime | None]
    # The buyer's language when ordering: what is sent later (receipts) speaks it.
    locale: Mapped[str | None] = mapped_column(String(8))


class OrderEvent(IdMixin, Base):
    """Append-only (a trigger refuses UPDATE and DELETE): the buyer's timeline."""

    __tablename__ = "order_events"
    __table_args__ = (
        Index("ix_order_events_order", "order_id", "id"),
        known_values("type", OrderEventType, name="known_type"),
        known_values("actor", Actor, name="known_actor"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    type: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    actor: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
