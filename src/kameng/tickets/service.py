"""Opening, following up, answering and closing support tickets. Services never
commit.

A ticket is opened from the order page: the order number, payment time and
product type come from the order, the cause from the explanation engine at that
moment (``kameng.orders.explain``), the message and a contact from the buyer.
The buyer may write again until the ticket is closed (``follow_up``); the
operator answers (``reply``) and closes. How often each may happen from one
address, for one order or one ticket: ``kameng.tickets.limits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kameng.db.connection import Conn
from kameng.models.vocabulary import Actor, OrderEventType, TicketAuthor, TicketStatus
from kameng.orders import repository as orders_repo
from kameng.orders.explain import Explanation
from kameng.orders.repository import OrderRow
from kameng.orders.states import append_event
from kameng.tickets import numbers, repository
from kameng.tickets.errors import (
    TicketClosed,
    TicketClosedToBuyer,
    TicketContactInvalid,
    TicketMessageInvalid,
    TicketNotFound,
)
from kameng.tickets.repository import MessageRow, TicketRow
from kameng.tickets.states import transition

MAX_MESSAGE = 2000
MAX_CONTACT = 120
_NUMBER_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class TicketView:
    ticket: TicketRow
    order: OrderRow
    messages: list[MessageRow]


def _text(value: str) -> str:
    # Browsers send a textarea's line breaks as CRLF: one line break each.
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not 1 <= len(text) <= MAX_MESSAGE or not all(c.isprintable() or c in "\n\t" for c in text):
        raise TicketMessageInvalid(max=MAX_MESSAGE)
    return text


def _contact(value: str | None) -> str | None:
    contact = (value or "").strip() or None
    if contact is not None and (len(contact) > MAX_CONTACT or not contact.isprintable()):
        raise TicketContactInvalid(max=MAX_CONTACT)
    return contact


async def open_ticket(
    conn: Conn,
    *,
    order: OrderRow,
    why: Explanation,
    message: str,
    contact: str | None,
    now: datetime,
) -> TicketRow:
    """A new ticket about ``order`` with the buyer's first message; the order's
    timeline says a ticket was opened."""
    body, contact = _text(message), _contact(contact)
    for _ in range(_NUMBER_ATTEMPTS):
        ticket = await repository.insert_ticket(
            conn,
            ticket_no=numbers.generate(),
            order_id=order.id,
            cause=why.cause.value if why.cause else None,
            cause_text=why.text,
            contact=contact,
            now=now,
        )
        if ticket is not None:
            await repository.insert_message(conn, ticket.id, TicketAuthor.BUYER, body, now)
            await append_event(
                conn,
                order_id=order.id,
                event=OrderEventType.TICKET_OPENED,
                actor=Actor.BUYER,
                now=now,
                params={"ticket": ticket.ticket_no},
            )
            return ticket
    raise RuntimeError("could not draw a free ticket number")  # 1e-12 odds, five times over


async def view(conn: Conn, ticket_no: str) -> TicketView:
    ticket = await repository.by_number(conn, ticket_no)
    if ticket is None:
        raise TicketNotFound(ticket_no=ticket_no[:20])
    order = await orders_repo.get_by_id(conn, ticket.order_id)
    assert order is not None  # a foreign key
    return TicketView(ticket, order, await repository.messages_of(conn, ticket.id))


async def find(conn: Conn, ticket_no: str) -> TicketRow | None:
    return await repository.by_number(conn, ticket_no)


async def follow_up(conn: Conn, ticket_no: str, text: str, *, now: datetime) -> TicketRow:
    """The buyer's further message: kept on the ticket (the order's timeline only
    says one was added, never its words); an answered ticket is open again, so it
    is back in the operator's list. A closed ticket refuses it."""
    body = _text(text)
    ticket = await _locked(conn, ticket_no)
    try:
        await transition(
            conn,
            ticket,
            to=TicketStatus.OPEN,
            event=OrderEventType.TICKET_FOLLOWED_UP,
            actor=Actor.BUYER,
            now=now,
        )
    except TicketClosed:
        raise TicketClosedToBuyer(ticket_no=ticket.ticket_no) from None
    await repository.insert_message(conn, ticket.id, TicketAuthor.BUYER, body, now)
    return ticket


async def reply(conn: Conn, ticket_no: str, text: str, *, now: datetime) -> TicketRow:
    """Support's answer: on the ticket and, word for word, on the order's timeline."""
    body = _text(text)
    ticket = await _locked(conn, ticket_no)
    await transition(
        conn,
        ticket,
        to=TicketStatus.ANSWERED,
        event=OrderEventType.TICKET_REPLIED,
        actor=Actor.OPERATOR,
        now=now,
        params={"reply": body},
    )
    await repository.insert_message(conn, ticket.id, TicketAuthor.OPERATOR, body, now)
    return ticket


async def close(conn: Conn, ticket_no: str, *, now: datetime) -> TicketRow:
    ticket = await _locked(conn, ticket_no)
    await transition(
        conn,
        ticket,
        to=TicketStatus.CLOSED,
        event=OrderEventType.TICKET_CLOSED,
        actor=Actor.OPERATOR,
        now=now,
    )
    return ticket


async def _locked(conn: Conn, ticket_no: str) -> TicketRow:
    ticket = await repository.lock_by_number(conn, ticket_no)
    if ticket is None:
        raise TicketNotFound(ticket_no=ticket_no[:20])
    return ticket


async def listing(conn: Conn, *, closed: bool = False, limit: int = 100) -> list[TicketRow]:
    """Open and answered tickets, oldest first (``closed``: closed ones too)."""
    statuses = [TicketStatus.OPEN, TicketStatus.ANSWERED] + (
        [TicketStatus.CLOSED] if closed else []
    )
    return await repository.listing(conn, [s.value for s in statuses], limit=limit)
