"""Ticket SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kameng.db.connection import Conn, execute, fetch_all_as, fetch_one_as
from kameng.db.rows import row_of
from kameng.models.vocabulary import TicketAuthor, TicketStatus


@row_of("tickets")
@dataclass(frozen=True, slots=True)
class TicketRow:
    id: int
    ticket_no: str
    order_id: int
    status: TicketStatus
    cause: str | None
    cause_text: str
    contact: str | None
    created_at: datetime
    updated_at: datetime


@row_of("ticket_messages")
@dataclass(frozen=True, slots=True)
class MessageRow:
    author: TicketAuthor
    body: str
    created_at: datetime


_COLUMNS = "id, ticket_no, order_id, status, cause, cause_text, contact, created_at, updated_at"


async def insert_ticket(
    conn: Conn,
    *,
    ticket_no: str,
    order_id: int,
    cause: str | None,
    cause_text: str,
    contact: str | None,
    now: datetime,
) -> TicketRow | None:
    """None when the number is taken (the caller draws another)."""
    return await fetch_one_as(
        conn,
        TicketRow,
        "INSERT INTO tickets (ticket_no, order_id, status, cause, cause_text, contact, "
        f"created_at, updated_at) VALUES (%(no)s, %(order)s, '{TicketStatus.OPEN}', %(cause)s, "
        "%(text)s, %(contact)s, %(now)s, %(now)s) ON CONFLICT (ticket_no) DO NOTHING "
        f"RETURNING {_COLUMNS}",
        {
            "no": ticket_no,
            "order": order_id,
            "cause": cause,
            "text": cause_text,
            "contact": contact,
            "now": now,
        },
    )


async def insert_message(
    conn: Conn, ticket_id: int, author: TicketAuthor, body: str, now: datetime
) -> None:
    await execute(
        conn,
        "INSERT INTO ticket_messages (ticket_id, author, body, created_at) "
        "VALUES (%(t)s, %(a)s, %(b)s, %(now)s)",
        {"t": ticket_id, "a": author.value, "b": body, "now": now},
    )


async def by_number(conn: Conn, ticket_no: str) -> TicketRow | None:
    return await fetch_one_as(
        conn, TicketRow, f"SELECT {_COLUMNS} FROM tickets WHERE ticket_no = %(n)s", {"n": ticket_no}
    )


async def lock_by_number(conn: Conn, ticket_no: str) -> TicketRow | None:
    return await fetch_one_as(
        conn,
        TicketRow,
        f"SELECT {_COLUMNS} FROM tickets WHERE ticket_no = %(n)s FOR UPDATE",
        {"n": ticket_no},
    )


async def move(
    conn: Conn, ticket_id: int, *, to: TicketStatus, sources: list[str], now: datetime
) -> bool:
    """Guarded status change: False when the ticket was not in one of ``sources``."""
    row = await fetch_one_as(
        conn,
        TicketRow,
        "UPDATE tickets SET status = %(to)s, updated_at = %(now)s "
        f"WHERE id = %(id)s AND status = ANY(%(sources)s) RETURNING {_COLUMNS}",
        {"to": to.value, "now": now, "id": ticket_id, "sources": sources},
    )
    return row is not None


async def messages_of(conn: Conn, ticket_id: int) -> list[MessageRow]:
    return await fetch_all_as(
        conn,
        MessageRow,
        "SELECT author, body, created_at FROM ticket_messages WHERE ticket_id = %(t)s ORDER BY id",
        {"t": ticket_id},
    )


async def listing(conn: Conn, statuses: list[str], *, limit: int) -> list[TicketRow]:
    """Tickets in these states, oldest first (index ix_tickets_status)."""
    return await fetch_all_as(
        conn,
        TicketRow,
        f"SELECT {_COLUMNS} FROM tickets WHERE status = ANY(%(s)s) "
        "ORDER BY created_at, id LIMIT %(limit)s",
        {"s": statuses, "limit": limit},
    )


async def of_order(conn: Conn, order_id: int) -> list[TicketRow]:
    return await fetch_all_as(
        conn,
        TicketRow,
        f"SELECT {_COLUMNS} FROM tickets WHERE order_id = %(o)s ORDER BY id",
        {"o": order_id},
    )
