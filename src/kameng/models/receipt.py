"""E-mail receipts (kameng.receipts): one row per mail, keyed by the timeline
event that asked for it, so a retried job never sends a mail twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin
from kameng.models.vocabulary import MailState, ReceiptKind, known_values


class ReceiptMail(IdMixin, Base):
    __tablename__ = "receipt_mails"
    __table_args__ = (
        known_values("kind", ReceiptKind, name="known_kind"),
        known_values("state", MailState, name="known_state"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_receipt_mails_order", "order_id"),
    )

    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("order_events.id"), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(120))
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
