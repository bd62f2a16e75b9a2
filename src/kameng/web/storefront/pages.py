"""Minimal buyer pages for the whole flow (the full storefront comes later)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from kameng.db.connection import transaction
from kameng.kit.errors import DomainError
from kameng.kit.i18n import N_
from kameng.orders.schemas import CreateOrderIn
from kameng.orders.states import FINAL, OrderStatus
from kameng.payments.active_query.service import Visit
from kameng.web import csrf, shared
from kameng.web.deps import language, runtime, token_for, translator_for
from kameng.web.templating import templates
from kameng.web.validation import describe

router = APIRouter(include_in_schema=False)


async def _index(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    rt = runtime(request)
    listings = (await rt.catalogue.get()).listings
    await rt.gateways.refresh_from(rt.pool)
    t = translator_for(request)
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "listings": listings,
            "notices": await shared.active_notices(rt),
            "error": error,
            "channels": [(c.name, c.label(t)) for c in rt.gateways.channels()],
        },
        status_code=status,
    )


# The buy form's fields by the words the form shows (not the API's names).
_BUY_LABELS = {
    "quantity": N_("Quantity"),
    "contact": N_("Contact"),
    "query_password": N_("Query password"),
}


@router.get("/")
async def index(request: Request) -> Response:
    return await _index(request)


@router.post("/buy")
async def buy(
    request: Request,
    product: Annotated[str, Form(max_length=200)] = "",
    quantity: Annotated[str, Form(max_length=20)] = "1",
    contact: Annotated[str, Form(max_length=500)] = "",
    query_password: Annotated[str, Form(max_length=500)] = "",
    channel: Annotated[str, Form(max_length=100)] = "",
    csrf_field: Annotated[str, Form(alias="csrf", max_length=100)] = "",
) -> Response:
    csrf.check(request, csrf_field)
    rt = runtime(request)
    t = translator_for(request)
    # The product's own fields (a top-up's account) come as field_<name>.
    form = await request.form()
    fields = {
        str(k)[len("field_") :]: str(v)
        for k, v in form.items()
        if str(k).startswith("field_") and isinstance(v, str)
    }
    try:
        # The form's text goes to the model as is: pydantic reads the quantity
        # ("²" or "1.5" is a clear error, not a crash).
        body = CreateOrderIn.model_validate(
            {
                "product": product,
                "quantity": quantity.strip(),
                "contact": contact or None,
                "query_password": query_password or None,
                "channel": channel or None,
                "fields": fields or None,
            }
        )
    except ValidationError as exc:
        error = describe(exc.errors()[:1], t, _BUY_LABELS)
        return await _index(request, error=error, status=422)
    try:
        order = await shared.create(rt, body, language(request))
    except DomainError as exc:
        return await _index(request, error=exc.translated(t), status=exc.status)
    response = RedirectResponse(f"/o/{order.order_no}?new=1", status_code=303)
    shared.remember(response, request, order.order_no, token_for(rt, order.order_no))
    return response


async def _order_page(
    request: Request, order_no: str, *, password: str | None, fragment: bool = False
) -> Response:
    rt = runtime(request)
    board = await rt.notices.get()
    async with transaction(rt.pool) as conn:
        detail = await shared.detail(conn, rt, request, order_no, password=password, token=None)
        await shared.buyer_visited(conn, detail.order, Visit.ORDER_PAGE)
        touching = await shared.notices_touching(conn, board, detail.order)
    view = shared.order_view(rt, detail, translator_for(request), touching)
    status = detail.order.status
    context = {
        "order": view,
        "password_given": bool(password),
        "pay_url": shared.pay_url(rt, detail.order) if status == OrderStatus.UNPAID else None,
        "live": status not in FINAL,
        # The page holds a live stream (/o/{no}/events): polling only as a safety net.
        "pushed": request.query_params.get("sse") == "1",
        "is_new": request.query_params.get("new") == "1",
    }
    name = "order_live.html" if fragment else "order.html"
    return templates.TemplateResponse(request, name, context)


@router.get("/o/{order_no}")
async def order_page(request: Request, order_no: str) -> Response:
    return await _order_page(request, order_no, password=None)


@router.post("/o/{order_no}")
async def order_page_with_password(
    request: Request,
    order_no: str,
    password: Annotated[str, Form(max_length=64)] = "",
    csrf_field: Annotated[str, Form(alias="csrf", max_length=100)] = "",
) -> Response:
    csrf.check(request, csrf_field)
    return await _order_page(request, order_no, password=password or None)


@router.get("/o/{order_no}/live")
async def order_live(request: Request, order_no: str) -> Response:
    """The part of the order page that htmx refreshes while the order is moving."""
    return await _order_page(request, order_no, password=None, fragment=True)
