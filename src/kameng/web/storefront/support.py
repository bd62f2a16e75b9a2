"""Contact support: the ticket form of an order (``/o/{no}/support``) and the
ticket's page (``/t/{ticket_no}``).

The form is filled in from the order (number, payment time, product type) and
the explanation engine's current cause; the buyer adds a message and a
contact. Opening tickets is rate-limited per address and per order (counters
in PostgreSQL, ``kameng.limits``). The ticket page shows what a ticket number
proves: the ticket and its conversation, the order number masked unless this
browser placed the order (as for a trade number alone).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kameng.db.connection import transaction
from kameng.kit import clock
from kameng.kit.errors import DomainError
from kameng.limits.service import Rule
from kameng.lookup.service import mask
from kameng.lookup.texts import TICKET_STATUSES
from kameng.orders import service as orders
from kameng.orders.explain import explain
from kameng.orders.service import OrderDetail
from kameng.orders.texts import kind_label
from kameng.tickets import numbers
from kameng.tickets import service as tickets
from kameng.tickets.errors import TicketNotFound, TooManyTickets
from kameng.web import csrf, shared
from kameng.web.deps import runtime, translator_for
from kameng.web.query.limits import address
from kameng.web.query.views import browser_owns
from kameng.web.templating import templates

router = APIRouter(include_in_schema=False)

TICKETS_PER_ADDRESS = Rule("ticket-address", 5, timedelta(hours=1))
TICKETS_PER_ORDER = Rule("ticket-order", 5, timedelta(days=1))
MAX_MESSAGE = tickets.MAX_MESSAGE


async def _form(
    request: Request,
    order_no: str,
    *,
    message: str = "",
    contact: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    t = translator_for(request)
    board = await rt.notices.get()
    async with transaction(rt.pool) as conn:
        detail = await shared.detail(conn, rt, request, order_no, password=None, token=None)
        touching = await shared.notices_touching(conn, board, detail.order)
    view = shared.order_view(rt, detail, t, touching)
    return templates.TemplateResponse(
        request,
        "support.html",
        {
            "order": view,
            "paid_at": detail.order.paid_at,
            "kind": kind_label(detail.order.product_kind, t),
            "message": message,
            "contact": contact,
            "max_message": MAX_MESSAGE,
            "error": error,
        },
        status_code=status,
    )


@router.get("/o/{order_no}/support")
async def support_form(request: Request, order_no: str) -> Response:
    return await _form(request, order_no)


async def _within_limits(request: Request, order_no: str) -> None:
    rt = runtime(request)
    now = clock.now()
    for rule, subject in ((TICKETS_PER_ADDRESS, address(request)), (TICKETS_PER_ORDER, order_no)):
        if await rt.limiter.exceeded(rule, subject, now):
            raise TooManyTickets(minutes=rule.minutes)


async def _open(rt_request: Request, detail: OrderDetail, message: str, contact: str) -> str:
    """Open the ticket in one transaction with the order's current explanation."""
    rt = runtime(rt_request)
    t = translator_for(rt_request)
    now = clock.now()
    async with transaction(rt.pool) as conn:
        timeline = await orders.timeline_of(conn, detail.order.id)
        why = explain(detail.order, timeline, t, now=now, zone_name=rt.settings.display_timezone)
        ticket = await tickets.open_ticket(
            conn, order=detail.order, why=why, message=message, contact=contact, now=now
        )
    for rule, subject in (
        (TICKETS_PER_ADDRESS, address(rt_request)),
        (TICKETS_PER_ORDER, detail.order.order_no),
    ):
        await rt.limiter.hit(rule, subject, now)
    return ticket.ticket_no


@router.post("/o/{order_no}/support")
async def open_ticket(
    request: Request,
    order_no: str,
    message: Annotated[str, Form(max_length=4000)] = "",
    contact: Annotated[str, Form(max_length=500)] = "",
    csrf_field: Annotated[str, Form(alias="csrf", max_length=100)] = "",
) -> Response:
    csrf.check(request, csrf_field)
    rt = runtime(request)
    t = translator_for(request)
    async with transaction(rt.pool) as conn:
        detail = await shared.detail(conn, rt, request, order_no, password=None, token=None)
    try:
        await _within_limits(request, detail.order.order_no)
        ticket_no = await _open(request, detail, message, contact)
    except DomainError as exc:
        return await _form(
            request,
            order_no,
            message=message,
            contact=contact,
            error=exc.translated(t),
            status=exc.status,
        )
    return RedirectResponse(f"/t/{ticket_no}?new=1", status_code=303)


@router.get("/t/{ticket_no}")
async def ticket_page(request: Request, ticket_no: str) -> Response:
    rt = runtime(request)
    t = translator_for(request)
    number = numbers.find_in(ticket_no)
    if number is None or not numbers.is_valid(number):
        raise TicketNotFound(ticket_no=ticket_no[:20])
    async with transaction(rt.pool) as conn:
        found = await tickets.view(conn, number)
    owner = browser_owns(request, rt, found.order.order_no)
    return templates.TemplateResponse(
        request,
        "ticket.html",
        {
            "ticket": found.ticket,
            "status_label": t(TICKET_STATUSES[found.ticket.status]),
            "messages": found.messages,
            "order_no": found.order.order_no if owner else None,
            "masked_order_no": mask(found.order.order_no),
            "kind": kind_label(found.order.product_kind, t),
            "is_new": request.query_params.get("new") == "1",
        },
    )
