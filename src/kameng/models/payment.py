from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin
from kameng.models.vocabulary import NotifyVerdict, known_values, sql_values

# Notifies that brought money in: kept with their payment for good.
KEPT_FOREVER = (NotifyVerdict.ACCEPTED, NotifyVerdict.ACCEPTED_LATE, NotifyVerdict.SECOND_PAYMENT)


class Payment(IdMixin, Base):
    """Money received for an order: one payment per order pays it; one per gateway
    trade. A second payment for a paid order is a ``surplus`` row, kept to be
    refunded."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("gateway", "trade_no"),
        # Buyers look orders up by the trade number alone (支付宝/微信 交易号).
        Index("ix_payments_trade_no", "trade_no"),
        Index("ix_payments_order_id", "order_id"),
        Index(
            "uq_payments_order_id_paying",
            "order_id",
            unique=True,
            postgresql_where=text("NOT surplus"),
        ),
        # Kept equal to the sum of the payment's counting refunds by a trigger
        # on refunds (kameng.models.refund): the database caps refunds.
        CheckConstraint(
            "refunds_claimed_cents BETWEEN 0 AND amount_cents", name="refunds_within_paid"
        ),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    surplus: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    refunds_claimed_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    gateway: Mapped[str] = mapped_column(String(32))
    trade_no: Mapped[str] = mapped_column(String(64))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]


class PaymentNotify(IdMixin, Base):
    """Every notify as received, with the verdict given to it (forgeries included)."""

    __tablename__ = "payment_notifies"
    __table_args__ = (
        Index("ix_payment_notifies_out_trade_no", "out_trade_no"),
        Index("ix_payment_notifies_trade_no", "trade_no"),
        # The purge reads only the rows it may delete.
        Index(
            "ix_payment_notifies_purgeable",
            "received_at",
            postgresql_where=text(f"verdict NOT IN ({sql_values(*KEPT_FOREVER)})"),
        ),
        known_values("verdict", NotifyVerdict, name="known_verdict"),
    )

    gateway: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]
    http_method: Mapped[str] = mapped_column(String(8))
    raw_query: Mapped[str] = mapped_column(Text)
    raw_body: Mapped[str] = mapped_column(Text)
    # Request headers as JSON (WeChat Pay signs with Wechatpay-* headers, so
    # without them a stored notify could not be re-verified); cookies dropped.
    raw_headers: Mapped[str | None] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    out_trade_no: Mapped[str | None] = mapped_column(String(64))
    trade_no: Mapped[str | None] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
