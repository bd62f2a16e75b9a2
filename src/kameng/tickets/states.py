"""The ticket state machine: the only code that changes ``tickets.status``.

Each change is a guarded ``UPDATE … WHERE status = ANY(allowed sources)`` in
the caller's transaction, and appends the order's timeline event, so the buyer
sees the conversation move on the order page too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kameng.db.connection import Conn
from kameng.models.vocabulary import Actor, OrderEventType, TicketStatus
from kameng.orders.states import append_event
from kameng.tickets import repository
from kameng.tickets.errors import TicketClosed
from kameng.tickets.repository import TicketRow

ALLOWED: dict[TicketStatus, frozenset[TicketStatus]] = {
    # The buyer may write again while waiting (open stays open).
    TicketStatus.OPEN: frozenset({TicketStatus.OPEN, TicketStatus.ANSWERED, TicketStatus.CLOSED}),
    # Support may write again; the buyer's follow-up reopens it.
    TicketStatus.ANSWERED: frozenset(
        {TicketStatus.ANSWERED, TicketStatus.OPEN, TicketStatus.CLOSED}
    ),
    TicketStatus.CLOSED: frozenset(),
}


def sources_of(target: TicketStatus) -> list[str]:
    return sorted(s.value for s, targets in ALLOWED.items() if target in targets)


async def transition(
    conn: Conn,
    ticket: TicketRow,
    *,
    to: TicketStatus,
    event: OrderEventType,
    actor: Actor,
    now: datetime,
    params: dict[str, Any] | None = None,
) -> None:
    """Move the ticket to ``to`` and append ``event`` to its order's timeline;
    a ticket that may not move there (closed) raises TicketClosed."""
    moved = await repository.move(conn, ticket.id, to=to, sources=sources_of(to), now=now)
    if not moved:
        raise TicketClosed(ticket_no=ticket.ticket_no)
    await append_event(
        conn,
        order_id=ticket.order_id,
        event=event,
        actor=actor,
        now=now,
        params={"ticket": ticket.ticket_no, **(params or {})},
    )
