"""Contact support: the ticket form of an order (``/o/{no}/support``) and the
ticket's page (``/t/{ticket_no}``), where the buyer may write again until the
ticket is closed.

The form is filled in from the order (number, payment time, product type) and
the explanation engine's current cause; the buyer adds a message and a
contact. Who may do what, and the budgets per address, order and ticket
(counters in PostgreSQL), are the JSON API's too: ``web.support_steps``. The
ticket page shows what a ticket number proves: the ticket and its
conversation, the order number masked unless this browser placed the order (as
for a trade number alone).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kameng.db.connection import transaction
from kameng.kit.errors import DomainError
from kameng.orders.texts import kind_label
from kameng.tickets import service as tickets
from kameng.tickets.errors import TicketClosedToBuyer
from kameng.web import csrf, shared, support_steps
from kameng.web.deps import runtime, translator_for
from kameng.web.templating import templates

router = APIRouter(include_in_schema=False)

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


@router.post("/o/{order_no}/support")
async def open_ticket(
    request: Request,
    order_no: str,
    message: Annotated[str, Form(max_length=4000)] = "",
    contact: Annotated[str, Form(max_length=500)] = "",
    csrf_field: Annotated[str, Form(alias="csrf", max_length=100)] = "",
) -> Response:
    csrf.check(request, csrf_field)
    t = translator_for(request)
    try:
        ticket_no = await support_steps.open_for_order(request, order_no, message, contact)
    except DomainError as exc:
        # An unknown or mistyped order fails again in _form, as its own error page.
        return await _form(
            request,
            order_no,
            message=message,
            contact=contact,
            error=exc.translated(t),
            status=exc.status,
        )
    return RedirectResponse(f"/t/{ticket_no}?new=1", status_code=303)


async def _ticket(
    request: Request,
    ticket_no: str,
    *,
    message: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The ticket as the JSON API shows it to this request (``support_steps.ticket_out``)."""
    t = translator_for(request)
    ticket = support_steps.ticket_out(await support_steps.shown(request, ticket_no), t)
    return templates.TemplateResponse(
        request,
        "ticket.html",
        {
            "ticket": ticket,
            "is_new": request.query_params.get("new") == "1",
            "is_added": request.query_params.get("added") == "1",
            "closed_text": None
            if ticket.may_follow_up
            else t(TicketClosedToBuyer.message, ticket_no=ticket.ticket_no),
            "message": message,
            "max_message": MAX_MESSAGE,
            "error": error,
        },
        status_code=status,
    )


@router.get("/t/{ticket_no}")
async def ticket_page(request: Request, ticket_no: str) -> Response:
    return await _ticket(request, ticket_no)


@router.post("/t/{ticket_no}/messages")
async def add_message(
    request: Request,
    ticket_no: str,
    message: Annotated[str, Form(max_length=4000)] = "",
    csrf_field: Annotated[str, Form(alias="csrf", max_length=100)] = "",
) -> Response:
    """The buyer writes again (CSRF); a closed ticket refuses, saying what to do."""
    csrf.check(request, csrf_field)
    t = translator_for(request)
    try:
        ticket = await support_steps.follow_up(request, ticket_no, message)
    except DomainError as exc:
        # An unknown ticket fails again in _ticket, as its own error page.
        return await _ticket(
            request, ticket_no, message=message, error=exc.translated(t), status=exc.status
        )
    return RedirectResponse(f"/t/{ticket.ticket_no}?added=1#ticket-messages", status_code=303)
