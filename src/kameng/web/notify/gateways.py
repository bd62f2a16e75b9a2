"""Payment notifies. The answer is the gateway's own ack word, sent only after
the transaction that recorded the payment has committed."""

from __future__ import annotations

from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from kameng.db.connection import transaction
from kameng.kit import clock
from kameng.payments.repository import record_notify
from kameng.payments.service import RawNotify, handle_notify
from kameng.web.deps import runtime

router = APIRouter(tags=["notify"], include_in_schema=False)
log = structlog.get_logger()

MAX_BODY = 64 * 1024


@router.api_route("/notify/{gateway_name}", methods=["GET", "POST"])
async def notify(gateway_name: str, request: Request) -> PlainTextResponse:
    rt = runtime(request)
    gateway = rt.gateways.get(gateway_name)
    body_bytes = (await request.body())[:MAX_BODY]
    body = body_bytes.decode("utf-8", "replace")
    raw_query = request.url.query
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    if request.method == "POST" and "form-urlencoded" in request.headers.get("content-type", ""):
        pairs += parse_qsl(body, keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs):
        params = {}  # a field sent twice is ambiguous: judged malformed below
    raw = RawNotify(
        http_method=request.method,
        raw_query=raw_query,
        raw_body=body,
        remote_addr=request.client.host if request.client else None,
        params=params,
    )
    ack_ok = gateway.ack_success if gateway else "success"
    ack_fail = gateway.ack_failure if gateway else "fail"
    try:
        async with transaction(rt.pool) as conn:
            outcome = await handle_notify(
                conn, gateway_name=gateway_name[:32], gateway=gateway, raw=raw, now=clock.now()
            )
    except Exception as exc:  # the gateway will retry; the notify is still recorded
        log.exception("notify failed", gateway=gateway_name)
        async with transaction(rt.pool) as conn:
            await record_notify(
                conn,
                gateway=gateway_name[:32],
                now=clock.now(),
                http_method=request.method,
                raw_query=raw_query,
                raw_body=body,
                remote_addr=raw.remote_addr,
                out_trade_no=params.get("out_trade_no"),
                trade_no=params.get("trade_no"),
                verdict="error",
                detail=type(exc).__name__,
                order_id=None,
            )
        return PlainTextResponse(ack_fail, status_code=503)
    if not outcome.acknowledged:
        log.warning(
            "notify rejected",
            gateway=gateway_name,
            verdict=outcome.verdict,
            detail=outcome.detail,
            out_trade_no=outcome.order_no,
        )
    return PlainTextResponse(ack_ok if outcome.acknowledged else ack_fail)
