"""对账: each run of comparing a gateway's bill with our payments, and what it found."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin
from kameng.models.vocabulary import FindingKind, known_values


class ReconciliationRun(IdMixin, Base):
    __tablename__ = "reconciliation_runs"
    __table_args__ = (Index("ix_reconciliation_runs_channel_day", "channel", "bill_date"),)

    channel: Mapped[str] = mapped_column(String(32))
    bill_date: Mapped[date]
    started_at: Mapped[datetime]
    gateway_lines: Mapped[int] = mapped_column(Integer)
    local_payments: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)  # the bill could not be fetched


class ReconciliationFinding(IdMixin, Base):
    __tablename__ = "reconciliation_findings"
    __table_args__ = (
        Index("ix_reconciliation_findings_run", "run_id"),
        known_values("kind", FindingKind, name="known_kind"),
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"))
    kind: Mapped[str] = mapped_column(String(32))
    order_no: Mapped[str | None] = mapped_column(String(64))
    trade_no: Mapped[str | None] = mapped_column(String(64))
    local_cents: Mapped[int | None] = mapped_column(BigInteger)
    gateway_cents: Mapped[int | None] = mapped_column(BigInteger)
    # The bill line and our row as they were: what an operator needs to decide.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
