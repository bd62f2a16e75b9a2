"""Upstream supply: suppliers, which products they serve, and each attempt at one.

A supply attempt is one try at one supplier for one order. The partial unique
index ``ux_supply_attempts_live`` lets an order have at most one attempt that
is not final, whatever the code does: a top-up is at one supplier at a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin
from kameng.models.vocabulary import (
    AttemptStatus,
    SupplierCallbackVerdict,
    known_values,
    sql_values,
)

_LIVE = (
    f"status IN ({sql_values(AttemptStatus.CREATED, AttemptStatus.SENT, AttemptStatus.UNKNOWN)})"
)


class Supplier(IdMixin, Base):
    __tablename__ = "suppliers"
    __table_args__ = (CheckConstraint("code ~ '^[A-Za-z0-9_-]{1,32}$'", name="code_format"),)

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    base_url: Mapped[str] = mapped_column(Text)
    merchant_id: Mapped[str] = mapped_column(String(64))
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)  # the shop's cipher
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lower goes first
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Health, kept by the engine after every call.
    successes: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int | None] = mapped_column(Integer)  # moving average
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    breaker_open_until: Mapped[datetime | None]  # circuit breaker: no sending before this
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SupplierProduct(IdMixin, Base):
    """A supplier sells one of our products under its own code, at a cost."""

    __tablename__ = "supplier_products"
    __table_args__ = (
        UniqueConstraint("supplier_id", "product_id"),
        CheckConstraint("cost_cents >= 0", name="cost_not_negative"),
    )

    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    supplier_sku: Mapped[str] = mapped_column(String(64))
    cost_cents: Mapped[int] = mapped_column(BigInteger)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class SupplyAttempt(IdMixin, Base):
    __tablename__ = "supply_attempts"
    __table_args__ = (
        known_values("status", AttemptStatus, name="known_status"),
        Index("ux_supply_attempts_live", "order_id", unique=True, postgresql_where=text(_LIVE)),
        Index("ix_supply_attempts_order", "order_id", "id"),
        Index("ix_supply_attempts_request", "supplier_id", "request_no"),
        Index("ix_supply_attempts_check", "next_check_at", postgresql_where=text(_LIVE)),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    request_no: Mapped[str] = mapped_column(String(40))  # idempotency key: our order number
    status: Mapped[str] = mapped_column(String(16))
    supplier_order_no: Mapped[str | None] = mapped_column(String(64))
    # refused: the supplier did not take the order (maintenance, balance, price);
    # it may be asked again later with the same key.
    refused: Mapped[bool] = mapped_column(Boolean, default=False)
    retry_after: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    checks: Mapped[int] = mapped_column(Integer, default=0)
    next_check_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class SupplierCallback(IdMixin, Base):
    """Every callback a supplier sends, stored raw with its verdict."""

    __tablename__ = "supplier_callbacks"
    __table_args__ = (
        known_values("verdict", SupplierCallbackVerdict, name="known_verdict"),
        Index(
            "ux_supplier_callbacks_nonce",
            "supplier_code",
            "nonce",
            unique=True,
            postgresql_where=text(
                f"verdict IN ({sql_values(SupplierCallbackVerdict.ACCEPTED)}, "
                f"{sql_values(SupplierCallbackVerdict.DUPLICATE)}, "
                f"{sql_values(SupplierCallbackVerdict.CONFLICT)})"
            ),
        ),
    )

    supplier_code: Mapped[str] = mapped_column(String(64))
    request_no: Mapped[str | None] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(String(64))
    raw_body: Mapped[str] = mapped_column(Text)
    verdict: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(Text)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("supply_attempts.id"))
    created_at: Mapped[datetime]


class OrderInput(Base):
    """What the buyer filled in for the product (a top-up's account), as given."""

    __tablename__ = "order_inputs"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONB)


class ManualDelivery(Base):
    """What an operator delivered by hand (shown to the order's owner only)."""

    __tablename__ = "manual_deliveries"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
