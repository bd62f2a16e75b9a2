"""Money sent back to a buyer (kameng.refunds).

The cap "never more than was paid" is kept by the database: a trigger on
``refunds`` (migration 0007) keeps ``payments.refunds_claimed_cents`` equal to
the sum of the payment's refunds that still count (every state but
``given_up``), and a CHECK on ``payments`` bounds that sum by the amount paid.
A CHECK alone cannot sum rows; the trigger's UPDATE of the payment row also
serialises concurrent refunds of one payment on that row's lock.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin
from kameng.models.vocabulary import Actor, RefundState, known_values, sql_values

_RETRYABLE = f"state IN ({sql_values(RefundState.REQUESTED, RefundState.FAILED)})"
_SUBMITTED = f"state = '{RefundState.SUBMITTED}'"


class Refund(IdMixin, Base):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        known_values("state", RefundState, name="known_state"),
        known_values("actor", Actor, name="known_actor"),
        Index("ix_refunds_order", "order_id"),
        # The refund worker reads due rows by index only.
        Index("ix_refunds_due", "next_attempt_at", postgresql_where=text(_RETRYABLE)),
        Index("ix_refunds_submitted", "updated_at", postgresql_where=text(_SUBMITTED)),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"))
    # Our number for this refund, sent to the gateway (out_refund_no /
    # out_request_no): the gateway refunds one number at most once.
    refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    gateway_refund_no: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    succeeded_at: Mapped[datetime | None]
