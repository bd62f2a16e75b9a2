"""Buyer JSON API for support tickets: open one about an order, read it, write
again. Who may do what and the budgets are the pages' (``web.support_steps``).

No CSRF token, as for the rest of ``/api`` (``POST /api/shop/orders`` neither):
the body is read as JSON only when sent as ``application/json``, which another
site's page cannot send without a CORS grant the shop never gives, and the
proofs (order and ticket numbers) travel in the request itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response

from kameng.tickets.schemas import TicketMessageIn, TicketOpenIn, TicketOut
from kameng.web import support_steps
from kameng.web.deps import translator_for
from kameng.web.responses import model_response

router = APIRouter(prefix="/api/shop", tags=["tickets"])

_NOT_FOUND = {"description": "unknown order or ticket; body: {error, message}"}
_INVALID = {"description": "invalid input (message, contact, order number); {error, message}"}
_CLOSED = {"description": "ticket_closed_to_messages: the ticket is closed"}
_OPEN_ERRORS: dict[int | str, dict[str, Any]] = {
    404: _NOT_FOUND,
    422: _INVALID,
    429: {"description": "too_many_tickets: from this address or for this order"},
}
_FOLLOW_UP_ERRORS: dict[int | str, dict[str, Any]] = {
    404: _NOT_FOUND,
    409: _CLOSED,
    422: _INVALID,
    429: {"description": "too_many_messages: from this address or on this ticket"},
}

OrderNo = Annotated[str, Path(max_length=64, description="the order number (16 digits)")]
TicketNo = Annotated[str, Path(max_length=40, description="the ticket number (T and 13 digits)")]
OrderToken = Annotated[
    str | None,
    Header(max_length=64, description="the ordering browser's token: the order number in full"),
]


async def _answer(request: Request, ticket_no: str, status: int = 200) -> Response:
    seen = await support_steps.shown(request, ticket_no)
    out = support_steps.ticket_out(seen, translator_for(request))
    return model_response(out, status_code=status)


@router.post(
    "/orders/{order_no}/tickets",
    status_code=201,
    response_model=TicketOut,
    responses=_OPEN_ERRORS,
)
async def open_ticket(
    order_no: OrderNo,
    body: TicketOpenIn,
    request: Request,
    x_order_token: OrderToken = None,
) -> Response:
    """Open a support ticket about this order, as the order's support form does:
    the order number is what it takes; the ticket records where the order stands
    now (the explanation's words). Within the form's budgets per address and per
    order (429 ``too_many_tickets``)."""
    ticket_no = await support_steps.open_for_order(request, order_no, body.message, body.contact)
    return await _answer(request, ticket_no, status=201)


@router.get("/tickets/{ticket_no}", response_model=TicketOut, responses={404: _NOT_FOUND})
async def get_ticket(
    ticket_no: TicketNo, request: Request, x_order_token: OrderToken = None
) -> Response:
    """The ticket and its conversation; the order number masked unless the request
    carries the ordering browser's token (cookie or ``X-Order-Token``), as on the
    ticket page."""
    return await _answer(request, ticket_no)


@router.post(
    "/tickets/{ticket_no}/messages",
    status_code=201,
    response_model=TicketOut,
    responses=_FOLLOW_UP_ERRORS,
)
async def add_message(
    ticket_no: TicketNo,
    body: TicketMessageIn,
    request: Request,
    x_order_token: OrderToken = None,
) -> Response:
    """Write again on a ticket (it is open again if support had answered); a closed
    ticket refuses (409). Within budgets per address and per ticket (429
    ``too_many_messages``)."""
    ticket = await support_steps.follow_up(request, ticket_no, body.message)
    return await _answer(request, ticket.ticket_no, status=201)
