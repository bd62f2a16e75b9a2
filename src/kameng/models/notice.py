from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin
from kameng.models.vocabulary import NoticeScope, known_values


class Notice(IdMixin, Base):
    """An operator's announcement (supplier maintenance, a channel outage …), shown
    on the storefront and on every order its scope touches while its window is open."""

    __tablename__ = "notices"
    __table_args__ = (
        known_values("scope", NoticeScope, name="known_scope"),
        CheckConstraint("ends_at > starts_at", name="window_forward"),
        CheckConstraint(
            f"(scope = '{NoticeScope.ALL}') = (target IS NULL)", name="target_by_scope"
        ),
        # The web processes read the notices not ended yet, once a second each.
        Index("ix_notices_ends_at", "ends_at"),
    )

    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_at: Mapped[datetime]
