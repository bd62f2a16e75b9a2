"""Buyer JSON API: products, orders, lookup. Documented in the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from kameng.db.connection import transaction
from kameng.kit.money import format_yuan
from kameng.lookup.service import lookup
from kameng.lookup.texts import message
from kameng.orders.schemas import (
    CreatedOrderOut,
    CreateOrderIn,
    LookupOut,
    OrderOut,
    ProductOut,
    order_out,
    summary,
)
from kameng.web import shared
from kameng.web.deps import runtime, token_for, translator_for

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


@router.post("/orders", status_code=201, response_model=CreatedOrderOut, responses=ERRORS)
async def create_order(body: CreateOrderIn, request: Request) -> Response:
    """Create an order. Its number is final from now on, before any payment."""
    rt = runtime(request)
    order = await shared.create(rt, body)
    # Hot path: the documented CreatedOrderOut shape, built as a plain dict and
    # sent as is (FastAPI's response_model pass would validate it a second time).
    token = token_for(rt, order.order_no)
    response = JSONResponse(
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
    password: Annotated[str | None, Query(max_length=64)] = None,
    token: Annotated[str | None, Query(max_length=64)] = None,
) -> OrderOut:
    """Status and timeline for anyone with the number; the goods only with the query
    password or the token (query ``token``, header ``X-Order-Token`` or the cookie)."""
    rt = runtime(request)
    async with transaction(rt.pool) as conn:
        detail = await shared.detail(conn, rt, request, order_no, password=password, token=token)
    return order_out(detail, translator_for(request), rt.settings.display_timezone)


@router.get("/lookup", response_model=LookupOut)
async def lookup_order(
    request: Request, q: Annotated[str, Query(max_length=128)] = ""
) -> LookupOut:
    """Find an order by its number (spaces, dashes, full-width digits and typos
    tolerated) or by the payment platform's trade number."""
    rt = runtime(request)
    t = translator_for(request)
    async with transaction(rt.pool) as conn:
        result = await lookup(conn, q)
    return LookupOut(
        kind=result.kind.value,
        normalized=result.normalized,
        message=message(result, t),
        order=summary(result.order, t) if result.order else None,
        suggestions=[summary(o, t) for o in result.suggestions],
    )
