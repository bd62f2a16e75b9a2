from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Integer, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base


class RiskRules(Base):
    """The shop's risk rules (one row, id 1; ``kameng review rules``): paid orders
    they match are held for an operator's review instead of fulfilled."""

    __tablename__ = "risk_rules"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("above_cents IS NULL OR above_cents > 0", name="above_positive"),
        CheckConstraint("contact_max IS NULL OR contact_max > 0", name="contact_max_positive"),
        CheckConstraint("window_seconds > 0 AND review_sla_seconds > 0", name="times_positive"),
    )

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    # Hold an order whose amount is above this (None: no amount rule).
    above_cents: Mapped[int | None] = mapped_column(BigInteger)
    # Hold an order whose contact already paid this many orders in the window.
    contact_max: Mapped[int | None] = mapped_column(Integer)
    window_seconds: Mapped[int] = mapped_column(Integer)
    review_sla_seconds: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
