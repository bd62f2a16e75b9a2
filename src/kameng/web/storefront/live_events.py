"""``/o/{no}/events``: the order's timeline pushed as server-sent events.

Fed by the process's one LISTEN connection (``kameng.orders.live``). Events:
``ready`` (listening; the page may slow its polling), ``timeline`` (the status
and the entries added since the last message, in the buyer's language) and
``final`` (the order reached a final state; the stream ends). The page falls
back to polling ``/o/{no}/live`` when the stream is unavailable.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sse_starlette.sse import EventSourceResponse

from kameng.db.connection import transaction
from kameng.kit.i18n import Translator
from kameng.orders import service as orders
from kameng.orders.repository import EventRow, OrderRow
from kameng.orders.states import FINAL
from kameng.orders.texts import event_label, status_label
from kameng.web import shared
from kameng.web.deps import runtime, translator_for
from kameng.web.runtime import Runtime

router = APIRouter(include_in_schema=False)


def _message(order: OrderRow, new: list[EventRow], t: Translator) -> str:
    return json.dumps(
        {
            "status": order.status.value,
            "status_label": status_label(order.status, t),
            "entries": [
                {
                    "type": e.type.value,
                    "label": event_label(e.type, e.params, t),
                    "at": e.created_at.isoformat(),
                }
                for e in new
            ],
        },
        ensure_ascii=False,
    )


async def _stream(
    rt: Runtime, order: OrderRow, seen: int, t: Translator
) -> AsyncIterator[dict[str, str]]:
    async with rt.timelines.subscribe(order.id) as wake:
        # Listening from here on: anything committed since the first read is caught below.
        async with transaction(rt.pool) as conn:
            now, timeline = await orders.current(conn, order.id)
        while now is not None:
            if len(timeline) > seen:
                yield {"event": "timeline", "data": _message(now, timeline[seen:], t)}
                seen = len(timeline)
            else:
                yield {"event": "ready", "data": _message(now, [], t)}
            if now.status in FINAL:
                yield {"event": "final", "data": now.status.value}
                return
            await wake.get()
            async with transaction(rt.pool) as conn:
                now, timeline = await orders.current(conn, order.id)


@router.get("/o/{order_no}/events")
async def order_events(request: Request, order_no: str) -> Response:
    rt = runtime(request)
    async with transaction(rt.pool) as conn:
        detail = await shared.detail(conn, rt, request, order_no, password=None, token=None)
    return EventSourceResponse(
        _stream(rt, detail.order, len(detail.timeline), translator_for(request)),
        ping=15,
        headers={"Cache-Control": "no-store"},
    )
