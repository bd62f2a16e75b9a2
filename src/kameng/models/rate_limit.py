from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base


class RateLimit(Base):
    """One fixed-window counter per (scope, subject), shared by every web process.

    A check is one upsert. Rows are small and bounded by what was asked in the
    last window; a periodic job deletes stale ones, so no attacker can evict a
    live counter by filling the table.
    """

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime]
    hits: Mapped[int] = mapped_column(Integer)
