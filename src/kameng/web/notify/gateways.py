"""Payment notifies. The answer is the gateway's own ack (text ``success``, an
HTTP status, ...), sent only after the transaction that recorded the payment
has committed."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response

from kameng.db.connection import Conn, transaction
from kameng.kit import clock
from kameng.kit.logs import bind
from kameng.models.vocabulary import NotifyVerdict
from kameng.payments.gateways.base import Gateway, InboundNotify, NotifyAck, text_ack
from kameng.payments.service import (
    NotifyOutcome,
    handle_notify,
    handle_refund_notify,
    record_failed_notify,
)
from kameng.web.deps import runtime
from kameng.web.observability import NOTIFIES

router = APIRouter(tags=["notify"], include_in_schema=False)
log = structlog.get_logger()

# Real notifies are a few kB (WeChat's encrypted JSON included); anything
# larger is refused before it is read, so nobody can make us buffer or store it.
MAX_BODY = 64 * 1024


class _BodyTooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # chunked bodies have no length: count
        size += len(chunk)
        if size > MAX_BODY:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(ack: NotifyAck) -> Response:
    return Response(ack.body, status_code=ack.status_code, media_type=ack.media_type)


class _Handler(Protocol):
    async def __call__(
        self,
        conn: Conn,
        *,
        gateway_name: str,
        gateway: Gateway | None,
        raw: InboundNotify,
        now: datetime,
        disabled: bool = False,
    ) -> NotifyOutcome: ...


@router.api_route("/notify/{gateway_name}", methods=["GET", "POST"])
async def notify(gateway_name: str, request: Request) -> Response:
    return await _receive(gateway_name, request, handle_notify)


@router.post("/notify/{gateway_name}/refund")
async def refund_notify(gateway_name: str, request: Request) -> Response:
    """A refund settled at the gateway (WeChat Pay v3 REFUND.*): the same
    limits, checks, log and ack as a payment notify; feeds the refunds."""
    return await _receive(gateway_name, request, handle_refund_notify)


async def _receive(gateway_name: str, request: Request, handler: _Handler) -> Response:
    rt = runtime(request)
    gateway = None
    try:
        body = await _read_body(request)
    except _BodyTooLarge:
        log.warning("notify refused: body too large", gateway=gateway_name[:32])
        return Response("payload too large", status_code=413, media_type="text/plain")
    raw = InboundNotify.from_request(
        method=request.method,
        headers=dict(request.headers),
        raw_query=request.url.query,
        body=body,
        remote_addr=request.client.host if request.client else None,
    )
    if out_trade_no := raw.params.get("out_trade_no"):
        bind(order_no=out_trade_no[:40])

    def ack(acknowledged: bool, verdict: NotifyVerdict) -> Response:
        if gateway is None:
            return _answer(text_ack(acknowledged))
        return _answer(gateway.notify_ack(acknowledged, verdict))

    try:
        async with transaction(rt.pool) as conn:
            # Every notify checks that the channels it knows are current: a key
            # changed a moment ago is already the only one accepted.
            await rt.gateways.refresh(conn)
            gateway = rt.gateways.get(gateway_name)
            outcome = await handler(
                conn,
                gateway_name=gateway_name[:32],
                gateway=gateway,
                raw=raw,
                now=clock.now(),
                disabled=rt.gateways.is_disabled(gateway_name),
            )
    except Exception as exc:  # the gateway will retry; the notify is still recorded
        log.exception("notify failed", gateway=gateway_name[:32])
        try:
            async with transaction(rt.pool) as conn:
                await record_failed_notify(
                    conn,
                    gateway_name=gateway_name[:32],
                    raw=raw,
                    error=type(exc).__name__,
                    now=clock.now(),
                )
        except Exception:  # the database is gone: the gateway's retry brings it back
            log.warning("notify not recorded", gateway=gateway_name[:32])
        NOTIFIES.labels(gateway_name[:32], NotifyVerdict.ERROR).inc()
        bind(verdict=NotifyVerdict.ERROR)
        return ack(False, NotifyVerdict.ERROR)
    NOTIFIES.labels(gateway_name[:32], outcome.verdict).inc()
    bind(verdict=outcome.verdict)
    if not outcome.acknowledged:
        log.warning(
            "notify rejected",
            gateway=gateway_name[:32],
            verdict=outcome.verdict,
            detail=outcome.detail,
            out_trade_no=outcome.order_no,
        )
    return ack(outcome.acknowledged, outcome.verdict)
