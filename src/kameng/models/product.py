from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin
from kameng.models.vocabulary import ProductKind, known_values


class Product(IdMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        known_values("kind", ProductKind, name="known_kind"),
        CheckConstraint("max_quantity BETWEEN 1 AND 1000", name="max_quantity_range"),
    )

    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=ProductKind.CARD_KEY.value)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    max_quantity: Mapped[int] = mapped_column(Integer, default=10)
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # What the buyer fills in (a top-up's account): [{name, label_zh, label_en,
    # pattern, example}], checked by kameng.catalog.fields.
    buyer_fields: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    # Deadlines from payment (SLA): escalate after, refund after (supplied kinds).
    sla_seconds: Mapped[int] = mapped_column(Integer, server_default=text("600"))
    refund_after_seconds: Mapped[int] = mapped_column(Integer, server_default=text("3600"))
