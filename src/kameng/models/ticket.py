from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kameng.models.base import Base, IdMixin
from kameng.models.vocabulary import TicketAuthor, TicketStatus, known_values


class Ticket(IdMixin, Base):
    """A buyer's support request about one order, filled in from the order page."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("ticket_no ~ '^T[1-9][0-9]{12}$'", name="ticket_no_format"),
        known_values("status", TicketStatus, name="known_status"),
        Index("ix_tickets_order", "order_id"),
        # The operator's list: open ones first, oldest first.
        Index("ix_tickets_status", "status", "created_at"),
    )

    ticket_no: Mapped[str] = mapped_column(String(14), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    status: Mapped[str] = mapped_column(String(16))
    # The order's explanation when the ticket was opened (kameng.orders.explain).
    cause: Mapped[str | None] = mapped_column(String(24))
    cause_text: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketMessage(IdMixin, Base):
    __tablename__ = "ticket_messages"
    __table_args__ = (
        known_values("author", TicketAuthor, name="known_author"),
        Index("ix_ticket_messages_ticket", "ticket_id", "id"),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    author: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
