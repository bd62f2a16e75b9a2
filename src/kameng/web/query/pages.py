"""查询订单: one box that accepts whatever the buyer holds.

GET /query?q= for what proves nothing more than itself (order number, trade
number alone, a card key, a courier number); POST /query adds the query
password or the contact for a trade number; /query/contact lists a contact's
orders; /my-orders lists the orders placed in this browser.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from kameng.db.connection import transaction
from kameng.kit.errors import DomainError
from kameng.lookup.errors import CaptchaRequired, TooManyLookups, TooManyProofs
from kameng.lookup.service import LookupKind, LookupResult
from kameng.orders import repository as orders_repo
from kameng.orders.schemas import summary
from kameng.web import captcha, csrf
from kameng.web.deps import remembered_orders, runtime, translator_for
from kameng.web.query.views import lookup_out, proof, run_contact_lookup, run_lookup
from kameng.web.templating import templates

router = APIRouter(include_in_schema=False)


def _opens(result: LookupResult) -> str | None:
    """The order page to go straight to, when the identifier proves the order."""
    if result.kind in (LookupKind.ORDER, LookupKind.TRADE_NO) and result.order is not None:
        return f"/o/{result.order.order_no}"
    return None


async def _answer(
    request: Request,
    q: str,
    *,
    password: str = "",
    contact: str = "",
    solution: str | None = None,
) -> Response:
    rt = runtime(request)
    t = translator_for(request)
    result = None
    refused: DomainError | None = None
    if q.strip():
        try:
            result = await run_lookup(
                request, rt, q, password=password, contact=contact, solution=solution
            )
        except (TooManyLookups, TooManyProofs, CaptchaRequired) as exc:
            refused = exc
        target = _opens(result) if result else None
        if target is not None and password:
            # The query password proved the order: 307 re-posts it (and the CSRF
            # token) to the order page, which then shows the goods; a plain 303
            # would drop it and ask the buyer for the same password again.
            return RedirectResponse(target, status_code=307)
        if target is not None:
            return RedirectResponse(target, status_code=303)
    return templates.TemplateResponse(
        request,
        "query.html",
        {
            "q": q,
            "result": lookup_out(result, t) if result else None,
            "refused": refused.translated(t) if refused else None,
            "captcha": captcha.widget(t) if isinstance(refused, CaptchaRequired) else None,
            "mine": list(remembered_orders(request)),
        },
        status_code=refused.status if refused else 200,
    )


@router.get("/query")
async def query_page(
    request: Request,
    q: Annotated[str, Query(max_length=500)] = "",
    altcha: Annotated[str | None, Query(max_length=4000)] = None,
) -> Response:
    return await _answer(request, q, solution=altcha)


@router.post("/query")
async def query_with_proof(
    request: Request,
    q: Annotated[str, Form(max_length=500)] = "",
    password: Annotated[str, Form(max_length=64)] = "",
    contact: Annotated[str, Form(max_length=120)] = "",
    altcha: Annotated[str | None, Form(max_length=4000)] = None,
    csrf_field: Annotated[str, Form(alias="csrf", max_length=100)] = "",
) -> Response:
    csrf.check(request, csrf_field)
    return await _answer(request, q, password=password, contact=contact, solution=altcha)


@router.get("/query/contact")
async def contact_form(request: Request) -> Response:
    return templates.TemplateResponse(request, "query_contact.html", {"orders": None})


@router.post("/query/contact")
async def contact_orders(
    request: Request,
    contact: Annotated[str, Form(max_length=120)] = "",
    password: Annotated[str, Form(max_length=64)] = "",
    page: Annotated[int, Form(ge=1, le=100)] = 1,
    altcha: Annotated[str | None, Form(max_length=4000)] = None,
    csrf_field: Annotated[str, Form(alias="csrf", max_length=100)] = "",
) -> Response:
    csrf.check(request, csrf_field)
    rt = runtime(request)
    t = translator_for(request)
    found: list[object] = []
    more = False
    refused: DomainError | None = None
    if contact.strip() and password:
        try:
            rows, more = await run_contact_lookup(
                request, rt, contact, password, page=page, solution=altcha
            )
            found = [summary(o, t) for o in rows]
        except (TooManyLookups, TooManyProofs, CaptchaRequired) as exc:
            refused = exc
    return templates.TemplateResponse(
        request,
        "query_contact.html",
        {
            "orders": None if refused else found,
            "contact": contact,
            "page": page,
            "more": more,
            "refused": refused.translated(t) if refused else None,
            "captcha": captcha.widget(t) if isinstance(refused, CaptchaRequired) else None,
        },
        status_code=refused.status if refused else 200,
    )


@router.get("/my-orders")
async def my_orders(request: Request) -> Response:
    """Orders placed in this browser (the signed tokens in its cookie)."""
    rt = runtime(request)
    t = translator_for(request)
    numbers = list(remembered_orders(request))
    found = []
    async with transaction(rt.pool) as conn:
        for number in numbers:
            order = await orders_repo.get_by_number(conn, number)
            if order is not None and proof(request, rt).owns(number):
                found.append(summary(order, t))
    return templates.TemplateResponse(request, "my_orders.html", {"orders": found})
