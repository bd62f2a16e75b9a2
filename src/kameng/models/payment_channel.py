"""Payment channels (kameng.payments.channels): one row per configured gateway.

``settings`` holds what may be shown (URLs, merchant ids, public keys);
``secrets_sealed`` the rest (keys, private keys), one JSON object sealed with
the shop's card-key cipher and bound to the channel's name. A trigger bumps
``payment_channels_version`` on every change, so each web and worker process
sees a change by reading one integer (migration 0017).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin
from kameng.models.vocabulary import ChannelKind, known_values


class PaymentChannel(IdMixin, Base):
    __tablename__ = "payment_channels"
    __table_args__ = (
        # The name is part of the notify URL (/notify/NAME): URL-safe, lower case.
        CheckConstraint("name ~ '^[a-z0-9_-]{1,32}$'", name="name_format"),
        known_values("kind", ChannelKind, name="known_kind"),
    )

    name: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean)
    label_zh: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer)  # lower is shown first
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    secrets_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentChannelsVersion(Base):
    """One row: a counter the trigger on payment_channels bumps on every change."""

    __tablename__ = "payment_channels_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
