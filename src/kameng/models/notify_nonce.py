from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin


class NotifyNonce(IdMixin, Base):
    """One-time values of signed notifies (WeChat Pay's Wechatpay-Nonce) seen so
    far: a replayed notify is refused by every process, not only the one that
    saw it first. Kept past the 5-minute timestamp window, then purged."""

    __tablename__ = "notify_nonces"
    __table_args__ = (
        UniqueConstraint("gateway", "nonce"),
        Index("ix_notify_nonces_expires_at", "expires_at"),
    )

    gateway: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
