from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    Sequence,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin
from kameng.models.vocabulary import CardKeyStatus, known_values

_SOLD = CardKeyStatus.SOLD.value
_AVAILABLE = CardKeyStatus.AVAILABLE.value

card_key_pool_seq = Sequence("card_key_pool_seq")


class CardKey(IdMixin, Base):
    """One card key. ``order_id`` is a single column, so a key belongs to at
    most one order; ``UNIQUE(order_id, slot)`` stops an order from holding
    more keys than it bought, whatever the code does."""

    __tablename__ = "card_keys"
    __table_args__ = (
        UniqueConstraint("product_id", "fingerprint"),
        UniqueConstraint("order_id", "slot"),
        known_values("status", CardKeyStatus, name="known_status"),
        CheckConstraint(
            f"(status = '{_SOLD}') = (order_id IS NOT NULL AND slot IS NOT NULL)",
            name="sold_iff_owned",
        ),
        # The only index that covers pool_seq, and only for unsold keys: the
        # allocation query orders by pool_seq, so its cost cannot grow with
        # keys sold. tests/cardkeys pins the plan.
        Index(
            "ix_card_keys_pool",
            "product_id",
            "pool_seq",
            postgresql_where=text(f"status = '{_AVAILABLE}'"),
        ),
        # The lookup box recognises a sold card key typed in by mistake.
        Index(
            "ix_card_keys_sold_fingerprint",
            "fingerprint",
            postgresql_where=text("order_id IS NOT NULL"),
        ),
    )

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    pool_seq: Mapped[int] = mapped_column(
        BigInteger, card_key_pool_seq, server_default=card_key_pool_seq.next_value()
    )
    status: Mapped[str] = mapped_column(String(12), server_default=_AVAILABLE)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    slot: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime]
    sold_at: Mapped[datetime | None]
