"""查询订单: one box that accepts whatever number the buyer has."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from kameng.db.connection import transaction
from kameng.lookup.service import LookupKind, lookup
from kameng.lookup.texts import message
from kameng.orders.schemas import summary
from kameng.web.deps import remembered_orders, runtime, translator_for
from kameng.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/query")
async def query_page(request: Request, q: Annotated[str, Query(max_length=128)] = "") -> Response:
    rt = runtime(request)
    t = translator_for(request)
    result = None
    if q.strip():
        async with transaction(rt.pool) as conn:
            result = await lookup(conn, q)
        if result.kind in (LookupKind.ORDER, LookupKind.TRADE_NO) and result.order:
            return RedirectResponse(f"/o/{result.order.order_no}", status_code=303)
    return templates.TemplateResponse(
        request,
        "query.html",
        {
            "q": q,
            "result": result,
            "message": message(result, t) if result else None,
            "suggestions": [summary(o, t) for o in result.suggestions] if result else [],
            "mine": list(remembered_orders(request)),
        },
    )
