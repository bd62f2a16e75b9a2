"""Logs carry no secret; /metrics counts what happened."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kameng.config import Settings
from kameng.kit.logs import QUIET_LOGGERS, configure_logging
from kameng.payments.gateways.registry import from_settings
from kameng.sandbox.epay import create_app as create_sandbox
from kameng.web.app import create_app
from tests.factories import (
    Sessions,
    add_keys,
    create_product,
    csrf_form,
    place_order,
    signed_notify,
)

QUERY_PASSWORD = "hunter2-Query-Pass"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything any logger emits, at DEBUG, as the production pipeline renders it
    (JSON lines); even the loggers kameng keeps quiet are opened up to DEBUG, so the
    redaction itself is what is tested."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    saved_levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    stream = io.StringIO()
    configure_logging(logging.DEBUG, json=True, stream=stream, cache=False)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)


class LosesNotifiesOf(httpx.AsyncBaseTransport):
    """The sandbox's way to the shop: delivers every notify except those of ``lost``."""

    def __init__(self, shop: httpx.AsyncBaseTransport) -> None:
        self.shop = shop
        self.lost: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("out_trade_no") in self.lost:
            return httpx.Response(502, text="bad gateway")
        return await self.shop.handle_async_request(request)


@pytest.fixture
async def wired(
    db: Sessions,
    settings: Settings,
    pool: Any,
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Any]:
    shop_app = create_app(settings, pool=pool)
    shop_transport = httpx.ASGITransport(app=shop_app, client=("127.0.0.1", 40002))
    to_shop = LosesNotifiesOf(shop_transport)
    sandbox = create_sandbox(
        merchants={settings.epay_pid: settings.epay_key}, time_scale=0.0001, http_transport=to_shop
    )
    registry = from_settings(settings, transport=httpx.ASGITransport(app=sandbox))
    monkeypatch.setattr(worker_runtime, "gateways", registry)
    shop = httpx.AsyncClient(transport=shop_transport, base_url="http://shop.test")
    epay = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://epay.sandbox.test"
    )
    yield shop, epay, to_shop
    await sandbox.state.epay.aclose()
    await shop.aclose()
    await epay.aclose()


async def pay_at_cashier(epay: httpx.AsyncClient, order: dict[str, Any]) -> None:
    cashier = await epay.get(order["pay_url"].removeprefix("http://epay.sandbox.test"))
    found = re.search(r'action="[^"]*/pay/(\d+)"', cashier.text)
    assert found is not None
    assert (await epay.post(f"/pay/{found.group(1)}")).status_code == 302


async def status_of(shop: httpx.AsyncClient, order_no: str) -> str:
    body = (await shop.get(f"/api/shop/orders/{order_no}")).json()
    return str(body["status"])


async def test_a_paid_order_leaves_no_secret_in_any_log_line(
    captured_logs: io.StringIO,
    wired: Any,
    db: Sessions,
    settings: Settings,
    run_jobs: Any,
    clock: Any,
) -> None:
    shop, epay, to_shop = wired
    product_id = await create_product(db)
    keys = await add_keys(db, settings, product_id, 2)

    # Paid through the sandbox's notify.
    notified = await place_order(shop, query_password=QUERY_PASSWORD)
    await pay_at_cashier(epay, notified)
    async with asyncio.timeout(30):  # a bound, not a timing: the box may be busy
        while await status_of(shop, notified["order_no"]) != "delivered":  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # polling another app over HTTP

    # Paid, notify lost: found by the worker's active query (api.php?…&key=…).
    queried = await place_order(shop, query_password=QUERY_PASSWORD)
    to_shop.lost.add(queried["order_no"])
    await pay_at_cashier(epay, queried)
    # The buyer comes back by the return URL: the query is pulled forward to now.
    assert (await shop.get(f"/o/{queried['order_no']}/return")).status_code == 303
    await run_jobs()
    assert await status_of(shop, queried["order_no"]) == "delivered"

    # The buyer reads the goods with the query password (JSON API and order page).
    goods: list[tuple[str, str]] = []
    for order in (notified, queried):
        seen = await shop.get(
            f"/api/shop/orders/{order['order_no']}", params={"password": QUERY_PASSWORD}
        )
        goods += [(g["number"], g["password"]) for g in seen.json()["goods"]]
        page = await shop.post(
            f"/o/{order['order_no']}", data=await csrf_form(shop, {"password": QUERY_PASSWORD})
        )
        assert page.status_code == 200
    assert sorted(goods) == sorted(keys)

    lines = captured_logs.getvalue().splitlines()
    events = [json.loads(line) for line in lines]
    secrets = {
        "merchant key": settings.epay_key,
        "shop secret": settings.secret_key,
        "query password": QUERY_PASSWORD,
        **{f"card number {n}": n for n, _ in keys},
        **{f"card secret {n}": pw for n, pw in keys},
    }
    leaks = [(what, line) for line in lines for what, s in secrets.items() if s in line]
    assert leaks == []
    # The log is not empty by accident: requests, the job, and httpx's masked query URL.
    requests = [e for e in events if e["event"] == "request"]
    assert {"method", "route", "status", "duration_ms"} <= set(requests[0])
    created = [e for e in requests if e["route"] == "/api/shop/orders" and e["status"] == 201]
    assert [e["order_no"] for e in created] == [notified["order_no"], queried["order_no"]]
    notifies = [e for e in requests if e["route"] == "/notify/{gateway_name}"]
    assert [(e["order_no"], e["verdict"]) for e in notifies] == [(notified["order_no"], "accepted")]
    assert all("password" not in e["route"] and "?" not in e["route"] for e in requests)
    jobs = [e for e in events if e["event"] == "job" and e["job"] == "payments.query_order"]
    assert {j["outcome"] for j in jobs} == {"done"}
    assert [j["order_no"] for j in jobs if j["found"]] == [queried["order_no"]]
    assert any("act=order" in e["event"] and "key=***" in e["event"] for e in events)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_requests_notifies_and_orders(
    client: httpx.AsyncClient, db: Sessions, settings: Settings
) -> None:
    product_id = await create_product(db)
    await add_keys(db, settings, product_id, 1)
    route = {"method": "POST", "route": "/api/shop/orders", "status": "201"}
    created = ("kameng_http_request_duration_seconds_count", frozenset(route.items()))
    accepted = (
        "kameng_notifies_total",
        frozenset({"gateway": "epay", "verdict": "accepted"}.items()),
    )
    forged = (
        "kameng_notifies_total",
        frozenset({"gateway": "epay", "verdict": "bad_signature"}.items()),
    )
    unknown = (
        "kameng_http_request_duration_seconds_count",
        frozenset({"method": "GET", "route": "unmatched", "status": "404"}.items()),
    )
    before = samples((await client.get("/metrics")).text)

    order = await place_order(client)
    params = signed_notify(settings, order["order_no"], order["amount_cents"])
    assert (await client.get("/notify/epay", params=params)).text == "success"
    assert (await client.get("/notify/epay", params={**params, "money": "0.01"})).text == "fail"

    assert (await client.get("/no/such/page?password=x")).status_code == 404
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    after = samples(scraped.text)
    assert after[created] - before.get(created, 0) == 1
    assert after[accepted] - before.get(accepted, 0) == 1
    assert after[forged] - before.get(forged, 0) == 1
    assert after[unknown] - before.get(unknown, 0) == 1  # one label value for every unknown URL
    assert after[("kameng_orders", frozenset({("status", "delivered")}))] == 1
    assert ("kameng_orders", frozenset({("status", "unpaid")})) not in after
    assert after[("kameng_job_lag_seconds", frozenset())] >= 0
