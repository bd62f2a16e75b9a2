"""Support tickets, the steps the pages (``web.storefront.support``) and the JSON
API (``web.api_v1.tickets``) take the same way: who may do what, which budgets
are spent, and what a ticket shows to whom.

- Opening needs the order's number, as the order's support form does (the
  form is reachable by anyone who has it, like the order page itself).
- The ticket's number shows the ticket and its conversation, with the order
  number masked unless the request carries the ordering browser's token (its
  cookie, or ``X-Order-Token``): a ticket number proves no more than a trade
  number alone does.
- The ticket's number also lets the buyer write again until it is closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from kameng.db.connection import transaction
from kameng.kit import clock
from kameng.kit.i18n import Translator
from kameng.lookup.service import mask
from kameng.lookup.texts import TICKET_STATUSES
from kameng.models.vocabulary import TicketStatus
from kameng.orders import service as orders
from kameng.orders.explain import explain
from kameng.orders.texts import kind_label
from kameng.tickets import limits, numbers
from kameng.tickets import service as tickets
from kameng.tickets.errors import TicketNotFound, TooManyTicketMessages, TooManyTickets
from kameng.tickets.repository import TicketRow
from kameng.tickets.schemas import TicketMessageOut, TicketOut
from kameng.tickets.service import TicketView
from kameng.web import shared
from kameng.web.deps import runtime, translator_for
from kameng.web.query.limits import address
from kameng.web.query.views import browser_owns


@dataclass(frozen=True, slots=True)
class Shown:
    """A ticket as this request may see it."""

    view: TicketView
    owner: bool  # the ordering browser: the order number in full


def ticket_number(text: str) -> str:
    """A path's ticket number, normalised (``t 1234-…`` too); anything that is not
    a valid one is a ticket not found."""
    number = numbers.find_in(text)
    if number is None or not numbers.is_valid(number):
        raise TicketNotFound(ticket_no=text[:20])
    return number


async def open_for_order(request: Request, order_no: str, message: str, contact: str | None) -> str:
    """Open a ticket about the order numbered ``order_no`` with the order's current
    explanation; its number. Within the address's and the order's budgets."""
    rt = runtime(request)
    t = translator_for(request)
    async with transaction(rt.pool) as conn:
        detail = await shared.detail(conn, rt, request, order_no, password=None, token=None)
    order = detail.order
    budget = limits.opening(address(request), order.order_no)
    await limits.refuse_if_spent(rt.limiter, budget, TooManyTickets, clock.now())
    now = clock.now()
    async with transaction(rt.pool) as conn:
        timeline = await orders.timeline_of(conn, order.id)
        why = explain(order, timeline, t, now=now, zone_name=rt.settings.display_timezone)
        ticket = await tickets.open_ticket(
            conn, order=order, why=why, message=message, contact=contact, now=now
        )
    await limits.spend(rt.limiter, budget, now)
    return ticket.ticket_no


async def follow_up(request: Request, ticket_no: str, message: str) -> TicketRow:
    """The buyer's further message on the ticket, within the address's and the
    ticket's budgets; a closed ticket refuses it (``TicketClosedToBuyer``)."""
    rt = runtime(request)
    number = ticket_number(ticket_no)
    budget = limits.following_up(address(request), number)
    await limits.refuse_if_spent(rt.limiter, budget, TooManyTicketMessages, clock.now())
    now = clock.now()
    async with transaction(rt.pool) as conn:
        ticket = await tickets.follow_up(conn, number, message, now=now)
    await limits.spend(rt.limiter, budget, now)
    return ticket


async def shown(request: Request, ticket_no: str) -> Shown:
    rt = runtime(request)
    number = ticket_number(ticket_no)
    async with transaction(rt.pool) as conn:
        found = await tickets.view(conn, number)
    return Shown(found, browser_owns(request, rt, found.order.order_no))


def ticket_out(seen: Shown, t: Translator) -> TicketOut:
    ticket, order = seen.view.ticket, seen.view.order
    return TicketOut(
        ticket_no=ticket.ticket_no,
        status=ticket.status.value,
        status_label=t(TICKET_STATUSES[ticket.status]),
        order_no=order.order_no if seen.owner else None,
        masked_order_no=mask(order.order_no),
        product_kind=order.product_kind.value,
        kind_label=kind_label(order.product_kind, t),
        cause_text=ticket.cause_text,
        created_at=ticket.created_at,
        may_follow_up=ticket.status != TicketStatus.CLOSED,
        ticket_url=f"/t/{ticket.ticket_no}",
        messages=[
            TicketMessageOut(author=m.author.value, body=m.body, at=m.created_at)
            for m in seen.view.messages
        ],
    )
