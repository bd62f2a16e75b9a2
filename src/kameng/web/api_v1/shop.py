"""Buyer JSON API: products, orders, lookup. Documented in the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from kameng.db.connection import single_statements
from kameng.kit import clock
from kameng.kit.money import format_yuan
from kameng.orders.schemas import (
    ContactLookupIn,
    ContactOrdersOut,
    CreatedOrderOut,
    CreateOrderIn,
    LookupIn,
    LookupOut,
    OrderOut,
    ProductOut,
    summary,
)
from kameng.payments.active_query.service import Visit
from kameng.web import captcha, shared
from kameng.web.deps import language, runtime, token_for, translator_for
from kameng.web.query.views import run_contact_lookup, run_explained_lookup
from kameng.web.responses import FastJSONResponse, model_response

router = APIRouter(prefix="/api/shop", tags=["shop"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "not found; body: {error, message}"},
    422: {"description": "invalid input; body: {error, message}"},
}


@router.get("/products", response_model=list[ProductOut])
async def products(request: Request) -> Response:
    """Products on sale; ``in_stock`` may be up to a second old (ordering never
    oversells: keys are allocated when the payment arrives)."""
    catalogue = await runtime(request).catalogue.get()
    # Built and validated as list[ProductOut] once per read (web.catalogue).
    return Response(catalogue.products_json, media_type="application/json")


class PaymentChannelOut(BaseModel):
    name: str = Field(description="send it as `channel` when creating an order")
    kind: str = Field(description="epay_v1, epay_v2, alipay or wechatpay_v3")
    label: str = Field(description="what the checkout shows, in the request's language")


@router.get("/payment-channels", response_model=list[PaymentChannelOut])
async def payment_channels(request: Request) -> list[PaymentChannelOut]:
    """The payment channels an order can be created on now, in display order."""
    rt = runtime(request)
    await rt.gateways.refresh_from(rt.pool, max_age=0)
    t = translator_for(request)
    return [
        PaymentChannelOut(name=c.name, kind=c.kind, label=c.label(t))
        for c in rt.gateways.channels()
    ]


@router.post("/orders", status_code=201, response_model=CreatedOrderOut, responses=ERRORS)
async def create_order(body: CreateOrderIn, request: Request) -> Response:
    """Create an order. Its number is final from now on, before any payment.
    The shop asks the gateway about it (主动查单) even if the buyer goes
    straight to ``pay_url`` and never opens ``order_url``."""
    rt = runtime(request)
    order = await shared.create(rt, body, language(request), hands_out_link=True)
    # Hot path: the documented CreatedOrderOut shape, built as a plain dict and
    # sent as is (FastAPI's response_model pass would validate it a second time).
    token = token_for(rt, order.order_no)
    response = FastJSONResponse(
        status_code=201,
        content={
            "order_no": order.order_no,
            "status": order.status,
            "amount": format_yuan(order.amount_cents),
            "amount_cents": order.amount_cents,
            "pay_url": shared.pay_url(rt, order) or "",
            "token": token,
            "order_url": shared.order_url(rt, order.order_no),
            "expires_at": order.expires_at.isoformat(),
        },
    )
    shared.remember(response, request, order.order_no, token)
    return response


@router.get(
    "/orders/{order_no}",
    response_model=OrderOut,
    responses={
        **ERRORS,
        403: {"description": "wrong query password"},
        429: {"description": "too many wrong query passwords for this order"},
    },
)
async def get_order(
    order_no: str,
    request: Request,
    x_query_password: Annotated[str | None, Header(max_length=64)] = None,
    x_order_token: Annotated[str | None, Header(max_length=64)] = None,
) -> Response:
    """Status and timeline for anyone with the number; the goods only with the query
    password (header ``X-Query-Password``) or the ordering browser's token (header
    ``X-Order-Token`` or the cookie). Never in the URL: URLs end up in access logs."""
    rt = runtime(request)
    board = await rt.notices.get()
    # Reads, each its own statement; the one write (buyer_visited) is atomic by itself.
    async with single_statements(rt.pool) as conn:
        detail = await shared.detail(
            conn, rt, request, order_no, password=x_query_password, token=x_order_token
        )
        await shared.buyer_visited(conn, detail.order, Visit.ORDER_PAGE)
        touching = await shared.notices_touching(conn, board, detail.order)
    # Documented as OrderOut (response_model); built and validated here, sent as is.
    return model_response(shared.order_view(rt, detail, translator_for(request), touching))


LOOKUP_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    429: {
        "description": "too many lookups (too_many_lookups), wrong passwords/contacts "
        "(too_many_proofs), or a proof-of-work check is needed (captcha_required: solve "
        "GET /api/shop/captcha, send the ALTCHA payload in X-Altcha)"
    },
}


@router.get("/lookup", response_model=LookupOut, responses=LOOKUP_ERRORS)
async def lookup_order(
    request: Request,
    q: Annotated[str, Query(max_length=500)] = "",
    x_altcha: Annotated[str | None, Header(max_length=4000)] = None,
) -> Response:
    """Find an order with whatever the buyer holds: its number (spaces, dashes,
    full-width digits, letters for digits, typos and a pasted label tolerated), the
    payment platform's trade number (state and masked number only, unless this
    browser placed the order), a card key received by mistake, a courier number."""
    rt = runtime(request)
    t = translator_for(request)
    return model_response(await run_explained_lookup(request, rt, q, t, solution=x_altcha))


@router.post("/lookup", response_model=LookupOut, responses=LOOKUP_ERRORS)
async def lookup_with_proof(
    body: LookupIn,
    request: Request,
    x_altcha: Annotated[str | None, Header(max_length=4000)] = None,
) -> Response:
    """As ``GET /lookup``, with the query password or the contact: a trade number
    then opens its order in full."""
    rt = runtime(request)
    t = translator_for(request)
    answer = await run_explained_lookup(
        request, rt, body.q, t, password=body.password, contact=body.contact, solution=x_altcha
    )
    return model_response(answer)


@router.post("/lookup/contact", response_model=ContactOrdersOut, responses=LOOKUP_ERRORS)
async def lookup_by_contact(
    body: ContactLookupIn,
    request: Request,
    x_altcha: Annotated[str | None, Header(max_length=4000)] = None,
) -> ContactOrdersOut:
    """The contact's orders that this query password opens, newest first, ten a page."""
    rt = runtime(request)
    t = translator_for(request)
    found, more = await run_contact_lookup(
        request, rt, body.contact, body.password, page=body.page, solution=x_altcha
    )
    return ContactOrdersOut(orders=[summary(o, t) for o in found], page=body.page, more=more)


@router.get("/captcha")
async def captcha_challenge(request: Request) -> dict[str, Any]:
    """A proof-of-work challenge (ALTCHA, offline): asked for after repeated lookup misses."""
    return captcha.challenge(runtime(request), clock.now())
