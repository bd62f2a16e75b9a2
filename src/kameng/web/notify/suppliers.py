"""Supplier callbacks (``POST /notify/supplier/{code}``): verified and applied by
the supply engine, recorded whatever they say. The answer is ``success`` once
the outcome is on record (or was already), else ``fail`` with a 400 so the
supplier retries; never a 5xx (an internal failure also answers 400 ``fail``)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from kameng.db.connection import transaction
from kameng.fulfilment.supply.callbacks import handle_callback
from kameng.fulfilment.supply.setup import supply_config
from kameng.kit import clock
from kameng.kit.logs import bind
from kameng.web.deps import runtime

router = APIRouter(tags=["notify"], include_in_schema=False)
log = structlog.get_logger()
MAX_BODY = 64 * 1024


@router.post("/notify/supplier/{code}")
async def supplier_callback(code: str, request: Request) -> Response:
    rt = runtime(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return PlainTextResponse("fail", status_code=413)
    body = (await request.body())[:MAX_BODY]
    text = body.decode("utf-8", errors="replace")
    params = {k: v for k, v in parse_qsl(text, keep_blank_values=True)}
    if out_no := params.get("out_order_no"):
        bind(order_no=out_no[:40])
    try:
        async with transaction(rt.pool) as conn:
            outcome = await handle_callback(
                conn,
                supply_config(rt.settings, rt.cipher),
                supplier_code=code[:32],
                params=params,
                raw_body=text,
                now=clock.now(),
            )
    except Exception:  # the supplier retries; nothing was applied (rolled back)
        log.exception("supplier callback failed", supplier=code[:32])
        return PlainTextResponse("fail", status_code=400)
    if not outcome.acknowledged:
        log.warning(
            "supplier callback rejected",
            supplier=code[:32],
            verdict=outcome.verdict,
            detail=outcome.detail,
        )
        return PlainTextResponse("fail", status_code=400)
    return PlainTextResponse("success")
