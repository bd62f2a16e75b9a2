"""The order timeline pushed over server-sent events, fed by LISTEN/NOTIFY."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import psycopg

from kameng.config import Settings
from tests.factories import make_stocked_product, place_order, signed_notify


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs from an event stream; pings (comments) skipped."""
    event, data = "message", ""
    async for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = line.split(":", 1)[1].strip()
        elif line == "" and data:
            yield event, data
            event, data = "message", ""


async def test_paying_pushes_the_timeline_without_polling(
    live_shop: str, database_url: str, live_settings: Settings
) -> None:
    await make_stocked_product(database_url, live_settings, 1, sku="GAME-10")
    async with httpx.AsyncClient(base_url=live_shop, trust_env=False, timeout=20) as client:
        order = await place_order(client)
        number = order["order_no"]
        received: list[tuple[str, Any]] = []
        async with client.stream("GET", f"/o/{number}/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = sse_events(stream.aiter_lines())
            event, data = await anext(events)
            assert (event, json.loads(data)["status"]) == ("ready", "unpaid")
            # Paid by the gateway while the stream is open: one request, no polling.
            paid = await client.post(
                "/notify/epay", data=signed_notify(live_settings, number, 1000)
            )
            assert (paid.status_code, paid.text) == (200, "success")
            async for event, data in events:
                received.append((event, data if event == "final" else json.loads(data)))
                if event == "final":
                    break
    timeline = [e for kind, body in received if kind == "timeline" for e in body["entries"]]
    assert [e["type"] for e in timeline] == ["paid", "delivered"]
    assert received[-1] == ("final", "delivered")
    statuses = [body["status"] for kind, body in received if kind == "timeline"]
    assert statuses[-1] == "delivered"


async def test_unknown_or_malformed_order_is_a_clear_error(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/o/1234567890123450/events")
    malformed = await client.get("/o/12345/events")
    assert (unknown.status_code, malformed.status_code) == (404, 422)


async def test_one_listening_connection_serves_every_open_timeline(
    live_shop: str, database_url: str, live_settings: Settings
) -> None:
    await make_stocked_product(database_url, live_settings, 1, sku="GAME-10")
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=live_shop, trust_env=False, timeout=20)
        )
        numbers = [(await place_order(client))["order_no"] for _ in range(3)]
        for number in numbers * 2:  # six open pages, three orders
            stream = await stack.enter_async_context(client.stream("GET", f"/o/{number}/events"))
            event, _ = await anext(sse_events(stream.aiter_lines()))
            assert event == "ready"
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query = 'LISTEN order_events'"
            )
            assert await cursor.fetchone() == (1,)
