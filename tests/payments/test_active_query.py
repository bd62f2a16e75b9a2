"""主动查单: the notify is lost, the worker asks the gateway and delivers anyway."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import text

from kameng.config import Settings
from kameng.db.connection import transaction
from kameng.kit.clock import FrozenClock
from kameng.payments.gateways.base import GatewayUnavailable
from kameng.payments.gateways.epay_v1 import EpayV1Gateway
from kameng.payments.gateways.registry import from_settings
from tests.factories import (
    Sessions,
    count,
    csrf_form,
    make_product,
    make_stocked_product,
    place_order,
)
from tests.payments.epay_sandbox import (
    buyer,
    gateways,
    open_cashier,
    sandbox,  # noqa: F401 - the fixture
)


@pytest.fixture
async def epay(
    sandbox: Any,  # noqa: F811 - the fixture imported above
    settings: Settings,
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    """The buyer's client to the sandbox, whose notifies are all lost; the
    worker's gateways ask it."""
    monkeypatch.setattr(worker_runtime, "gateways", gateways(settings, sandbox))
    async with buyer(sandbox) as client:
        yield client


QUERY_ORDER_JOBS = (
    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'payments.query_order'"
)


@dataclass
class Shop:
    """A buyer's clients to the shop and to the sandbox (whose notifies are all
    lost), the database, the frozen clock and the worker."""

    client: httpx.AsyncClient
    epay: httpx.AsyncClient
    db: Sessions
    settings: Settings
    clock: FrozenClock
    pool: Any
    run_jobs: Any

    async def at_cashier(self) -> tuple[dict[str, Any], str]:
        """An order placed and its sandbox cashier opened; the trade number."""
        order = await place_order(self.client)
        return order, await open_cashier(self.epay, order)

    async def run_query_job(self) -> None:
        from procrastinate.exceptions import AlreadyEnqueued

        from kameng.payments.active_query.tasks import query_pending

        # The worker's periodic deferrer may have left this minute's sweep waiting
        # (same queueing lock): that one does the same work.
        with contextlib.suppress(AlreadyEnqueued):
            await query_pending.defer_async(timestamp=0)
        await self.run_jobs()

    async def db_status(self, order_no: str) -> str:
        """The order's status, read without a visit (the API's read is one)."""
        async with self.db() as s:
            return str(
                (
                    await s.execute(
                        text("SELECT status FROM orders WHERE order_no = :n"), {"n": order_no}
                    )
                ).scalar_one()
            )

    async def status(self, order_no: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self.client.get(f"/api/shop/orders/{order_no}")).json()
        return body

    async def schedule(self, order_no: str) -> tuple[Any, int]:
        """(next_query_at, query_attempts) of the order."""
        async with self.db() as s:
            row = (
                await s.execute(
                    text("SELECT next_query_at, query_attempts FROM orders WHERE order_no = :n"),
                    {"n": order_no},
                )
            ).one()
        return row[0], int(row[1])

    async def count(self, sql: str) -> int:
        return await count(self.db, sql)


@pytest.fixture
def shop(
    client: httpx.AsyncClient,
    epay: httpx.AsyncClient,
    db: Sessions,
    settings: Settings,
    clock: FrozenClock,
    pool: Any,
    run_jobs: Any,
) -> Shop:
    return Shop(client, epay, db, settings, clock, pool, run_jobs)


class TestActiveQuery:
    async def test_lost_notify_is_found_by_the_schedule(self, shop: Shop) -> None:
        """The API's client took the gateway's pay link and never came back to
        any page of ours: the schedule started when the link was handed out."""
        keys = (await make_stocked_product(shop.db, shop.settings, 1)).keys
        created = shop.clock.now()
        order, trade_no = await shop.at_cashier()  # POST /api/shop/orders, then epay's cashier
        assert order["pay_url"].startswith("http://epay.sandbox.test/")  # straight to epay
        assert (await shop.epay.post(f"/pay/{trade_no}")).status_code == 302  # notify lost
        # Written with the order: the first ask 15 s after creation, no job (the sweep asks).
        assert await shop.schedule(order["order_no"]) == (created + timedelta(seconds=15), 0)
        assert await shop.count(QUERY_ORDER_JOBS) == 0

        shop.clock.advance(seconds=14)  # not due yet: the gateway is not asked
        await shop.run_query_job()
        assert await shop.count("SELECT count(*) FROM payment_notifies") == 0
        assert await shop.db_status(order["order_no"]) == "unpaid"

        shop.clock.advance(seconds=1)  # due: asked, found paid, delivered
        await shop.run_query_job()
        assert await shop.db_status(order["order_no"]) == "delivered"
        body = await shop.status(order["order_no"])
        assert body["status"] == "delivered"
        assert [(g["number"], g["password"]) for g in body["goods"]] == keys
        assert "主动向支付平台查询确认" in body["timeline"][1]["label"]
        async with shop.db() as s:
            logged = (
                await s.execute(text("SELECT http_method, verdict, trade_no FROM payment_notifies"))
            ).all()
        assert [tuple(r) for r in logged] == [("QUERY", "accepted", trade_no)]
        assert await shop.count("SELECT count(*) FROM payments") == 1

        # Paid: out of the schedule; visits and sweeps ask nothing any more.
        shop.clock.advance(minutes=5)
        assert (await shop.client.get(f"/o/{order['order_no']}/return")).status_code == 303
        await shop.run_query_job()
        assert await shop.count("SELECT count(*) FROM payment_notifies") == 1
        assert await shop.count("SELECT count(*) FROM payments") == 1

    async def test_storefront_order_never_opened_is_not_asked(self, shop: Shop) -> None:
        """The buy button sends the buyer to the order page, which starts the
        schedule; an order nobody opened costs the gateway nothing."""
        await make_product(shop.db)
        bought = await shop.client.post(
            "/buy", data=await csrf_form(shop.client, {"product": "GAME-10", "quantity": "1"})
        )
        assert bought.status_code == 303
        number = bought.headers["location"].removeprefix("/o/").split("?")[0]
        assert await shop.schedule(number) == (None, 0)
        shop.clock.advance(minutes=2)
        await shop.run_query_job()
        assert await shop.schedule(number) == (None, 0)
        assert await shop.db_status(number) == "unpaid"
        started = shop.clock.now()
        assert (await shop.client.get(bought.headers["location"])).status_code == 200
        assert await shop.schedule(number) == (started + timedelta(seconds=15), 0)

    async def test_unvisited_unpaid_api_order_is_asked_a_bounded_number_of_times(
        self,
        shop: Shop,
        sandbox: Any,  # noqa: F811 - the fixture imported above
        worker_runtime: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A direct pay link nobody used: the schedule's few asks (none per
        minute), then no more; nothing about the order changes."""
        asked: list[int] = []
        created = shop.clock.now()

        class Counting(httpx.AsyncBaseTransport):
            inner = httpx.ASGITransport(app=sandbox)

            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                asked.append(int((shop.clock.now() - created).total_seconds()))
                return await self.inner.handle_async_request(request)

        registry = from_settings(shop.settings, transport=Counting())
        monkeypatch.setattr(worker_runtime, "gateways", registry)
        await make_product(shop.db)
        order = await place_order(shop.client)  # never opened, here or at the gateway
        for _ in range(20):  # the minute sweep, for 20 minutes (expiry at 15 min)
            shop.clock.advance(minutes=1)
            await shop.run_query_job()
        # Due at 15 s, then 30 s, 1, 2, 5 min after each ask, as the minute sweep
        # finds them; one last ask a minute after expiry (960 s); then none.
        assert asked == [60, 120, 180, 300, 600, 960]
        assert await shop.schedule(order["order_no"]) == (None, 6)
        assert await shop.db_status(order["order_no"]) == "unpaid"
        assert await shop.count("SELECT count(*) FROM payment_notifies") == 0
        assert await shop.count("SELECT count(*) FROM payments") == 0
        assert await shop.count("SELECT count(*) FROM order_events") == 1  # created

    async def test_return_url_asks_at_once(self, shop: Shop) -> None:
        await make_stocked_product(shop.db, shop.settings, 1)
        order, trade_no = await shop.at_cashier()
        paid = await shop.epay.post(f"/pay/{trade_no}")
        back = paid.headers["location"]  # the sandbox sends the buyer to the return URL
        assert back.startswith(f"{shop.settings.public_url}/o/{order['order_no']}/return?")
        answer = await shop.client.get(back.removeprefix(shop.settings.public_url))
        assert (answer.status_code, answer.headers["location"]) == (303, f"/o/{order['order_no']}")
        assert await shop.schedule(order["order_no"]) == (shop.clock.now(), 0)
        assert await shop.count(QUERY_ORDER_JOBS) == 1
        # Coming back again at once adds nothing (debounced; one job waits already).
        assert (
            await shop.client.get(back.removeprefix(shop.settings.public_url))
        ).status_code == 303
        assert await shop.count(QUERY_ORDER_JOBS) == 1
        await shop.run_jobs()
        assert (await shop.status(order["order_no"]))["status"] == "delivered"
        assert await shop.count("SELECT count(*) FROM payments") == 1

    async def test_order_page_pulls_the_query_forward_debounced(self, shop: Shop) -> None:
        from kameng.payments.active_query import service

        await make_product(shop.db)
        order = await place_order(shop.client)
        number = order["order_no"]
        start = shop.clock.now()
        await shop.client.get(f"/o/{number}")  # starts the schedule
        shop.clock.advance(seconds=10)
        await shop.client.get(f"/o/{number}")  # within the debounce: nothing
        await shop.client.get(f"/api/shop/orders/{number}")
        assert await shop.schedule(number) == (start + timedelta(seconds=15), 0)
        # One job for the first ask (a step shorter than the minute sweep).
        assert await shop.count(QUERY_ORDER_JOBS) == 1
        shop.clock.advance(seconds=5)  # the first ask (as the worker does it): next in 30 s
        async with transaction(shop.pool) as conn:
            assert len(await service.claim_due(conn, now=shop.clock.now(), limit=10)) == 1
        assert await shop.schedule(number) == (shop.clock.now() + timedelta(seconds=30), 1)
        assert await shop.count(QUERY_ORDER_JOBS) == 2  # its own job for the 30 s step
        shop.clock.advance(seconds=16)  # 31 s after the first visit: pulled forward to now
        await shop.client.get(f"/api/shop/orders/{number}")
        assert await shop.schedule(number) == (shop.clock.now(), 1)
        assert await shop.count(QUERY_ORDER_JOBS) == 3
        await shop.client.get(f"/o/{number}")  # due already: nothing more
        assert await shop.count(QUERY_ORDER_JOBS) == 3

    async def test_back_off_until_expiry_then_one_last_ask(self, shop: Shop) -> None:
        from kameng.payments.active_query import service

        await make_product(shop.db)
        order, _ = await shop.at_cashier()  # at the cashier, never paid
        await shop.client.get(f"/o/{order['order_no']}")
        created = datetime.fromisoformat(order["expires_at"]) - timedelta(
            seconds=shop.settings.unpaid_ttl_seconds
        )
        asked_at: list[int] = []
        while True:
            due, attempts = await shop.schedule(order["order_no"])
            if due is None:
                break
            shop.clock.advance(seconds=(due - shop.clock.now()).total_seconds())
            asked_at.append(int((due - created).total_seconds()))
            async with transaction(shop.pool) as conn:
                claimed = await service.claim_due(conn, now=shop.clock.now(), limit=10)
            assert [c.order_no for c in claimed] == [order["order_no"]]
        # 15 s, +30 s, +1, +2, +5 min (the next step, 10 min, would pass the
        # 15 min expiry), then a minute after expiry; then the schedule is over.
        assert shop.settings.unpaid_ttl_seconds == 900
        assert asked_at == [15, 45, 105, 225, 525, 960]
        assert attempts == 6

    async def test_unpaid_at_the_gateway_changes_nothing(self, shop: Shop) -> None:
        await make_product(shop.db)
        opened, _ = await shop.at_cashier()  # at the cashier, never paid
        never_opened = await place_order(shop.client)  # unknown to the gateway
        for order in (opened, never_opened):
            await shop.client.get(f"/o/{order['order_no']}")
        shop.clock.advance(minutes=2)
        await shop.run_query_job()
        for order in (opened, never_opened):
            assert (await shop.status(order["order_no"]))["status"] == "unpaid"
            assert (await shop.schedule(order["order_no"]))[1] == 1  # asked once
        assert await shop.count("SELECT count(*) FROM payment_notifies") == 0

    async def test_gateway_down_changes_nothing(
        self, shop: Shop, worker_runtime: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def down(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        registry = from_settings(shop.settings, transport=httpx.MockTransport(down))
        monkeypatch.setattr(worker_runtime, "gateways", registry)
        await make_product(shop.db)
        order = await place_order(shop.client)
        await shop.client.get(f"/o/{order['order_no']}/return")
        await shop.run_query_job()
        assert (await shop.status(order["order_no"]))["status"] == "unpaid"
        # The failed ask moved the order to its next step (no hammering a down gateway).
        assert await shop.schedule(order["order_no"]) == (
            shop.clock.now() + timedelta(seconds=30),
            1,
        )
        # The jobs themselves ran to the end (the worker may also have run the periodic one).
        jobs = (
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name IN "
            "('payments.query_pending', 'payments.query_order')"
        )
        assert await shop.count(jobs + " AND status = 'succeeded'") >= 2
        # (the next ask's own job waits its 30 s)
        assert await shop.count(jobs + " AND status NOT IN ('succeeded', 'todo')") == 0


GATEWAY = EpayV1Gateway(name="epay", base_url="http://epay.test/", pid="1001", key="k")
ORDER = "1234567890123450"


def answer(**fields: Any) -> dict[str, Any]:
    base = {
        "code": 1,
        "msg": "succ",
        "trade_no": "T1",
        "out_trade_no": ORDER,
        "pid": "1001",
        "type": "alipay",
        "money": "10.00",
        "status": 1,
    }
    return base | fields


class TestEpayQueryEdgeCases:
    @pytest.mark.parametrize(
        ("reply", "expected"),
        [
            (answer(), ("T1", 1000)),
            (answer(status=0), None),
            ({"code": -1, "msg": "订单号不存在"}, None),
        ],
    )
    @respx.mock
    async def test_answers(self, reply: dict[str, Any], expected: Any) -> None:
        respx.get("http://epay.test/api.php").respond(json=reply)
        result = await GATEWAY.query(ORDER)
        assert (None if result is None else (result.trade_no, result.amount_cents)) == expected

    @pytest.mark.parametrize(
        "reply",
        [
            answer(out_trade_no="1111111111111111"),
            answer(pid="9999"),
            answer(money="ten"),
            answer(trade_no=""),
            {"code": -2, "msg": "KEY校验失败"},
            ["not", "an", "object"],
        ],
    )
    @respx.mock
    async def test_untrustworthy_answers_raise(self, reply: Any) -> None:
        respx.get("http://epay.test/api.php").respond(json=reply)
        with pytest.raises(GatewayUnavailable):
            await GATEWAY.query(ORDER)

    @respx.mock
    async def test_not_json_raises(self) -> None:
        respx.get("http://epay.test/api.php").respond(text="<html>502</html>")
        with pytest.raises(GatewayUnavailable):
            await GATEWAY.query(ORDER)
