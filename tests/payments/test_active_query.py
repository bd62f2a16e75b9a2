"""主动查单: the notify is lost, the worker asks the gateway and delivers anyway."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import text

from kameng.config import Settings
from kameng.kit.clock import FrozenClock
from kameng.payments.gateways.base import GatewayUnavailable
from kameng.payments.gateways.epay_v1 import EpayV1Gateway
from kameng.payments.gateways.registry import from_settings
from kameng.sandbox.epay import create_app as create_sandbox
from tests.factories import Sessions, count, make_product, make_stocked_product, place_order


def lost(request: httpx.Request) -> httpx.Response:
    return httpx.Response(502, text="bad gateway")  # every notify is lost on the way


@pytest.fixture
async def epay(
    settings: Settings, worker_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    sandbox = create_sandbox(
        merchants={settings.epay_pid: settings.epay_key},
        time_scale=0.0001,
        http_transport=httpx.MockTransport(lost),
    )
    registry = from_settings(settings, transport=httpx.ASGITransport(app=sandbox))
    monkeypatch.setattr(worker_runtime, "gateways", registry)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://epay.sandbox.test"
    ) as buyer:
        yield buyer
    await sandbox.state.epay.aclose()


async def open_cashier(epay: httpx.AsyncClient, order: dict[str, Any]) -> str:
    cashier = await epay.get(order["pay_url"].removeprefix("http://epay.sandbox.test"))
    found = re.search(r'action="[^"]*/pay/(\d+)"', cashier.text)
    assert found is not None
    return found.group(1)


async def run_query_job(run_jobs: Any) -> None:
    from kameng.payments.tasks import query_pending

    await query_pending.defer_async(timestamp=0)
    await run_jobs()


async def status(client: httpx.AsyncClient, order_no: str) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/api/shop/orders/{order_no}")).json()
    return body


class TestActiveQuery:
    async def test_lost_notify_is_found_at_the_scheduled_ages(
        self,
        client: httpx.AsyncClient,
        epay: httpx.AsyncClient,
        db: Sessions,
        settings: Settings,
        clock: FrozenClock,
        run_jobs: Any,
    ) -> None:
        keys = (await make_stocked_product(db, settings, 1)).keys
        order = await place_order(client)
        trade_no = await open_cashier(epay, order)
        assert (await epay.post(f"/pay/{trade_no}")).status_code == 302
        assert (await status(client, order["order_no"]))["status"] == "unpaid"

        clock.advance(minutes=4)  # 4 is not a scheduled age: the gateway is not asked
        await run_query_job(run_jobs)
        assert (await status(client, order["order_no"]))["status"] == "unpaid"

        clock.advance(minutes=1)  # age 5: asked, found paid, delivered
        await run_query_job(run_jobs)
        body = await status(client, order["order_no"])
        assert body["status"] == "delivered"
        assert [(g["number"], g["password"]) for g in body["goods"]] == keys
        assert "主动向支付平台查询确认" in body["timeline"][1]["label"]
        async with db() as s:
            logged = (
                await s.execute(text("SELECT http_method, verdict, trade_no FROM payment_notifies"))
            ).all()
        assert [tuple(r) for r in logged] == [("QUERY", "accepted", trade_no)]
        assert await count(db, "SELECT count(*) FROM payments") == 1

        clock.advance(minutes=5)  # age 10: asked again, already paid: nothing changes
        await run_query_job(run_jobs)
        assert await count(db, "SELECT count(*) FROM payment_notifies") == 1

    async def test_unpaid_at_the_gateway_changes_nothing(
        self,
        client: httpx.AsyncClient,
        epay: httpx.AsyncClient,
        db: Sessions,
        clock: FrozenClock,
        run_jobs: Any,
    ) -> None:
        await make_product(db)
        opened = await place_order(client)
        await open_cashier(epay, opened)  # at the cashier, never paid
        never_opened = await place_order(client)  # unknown to the gateway
        clock.advance(minutes=2)
        await run_query_job(run_jobs)
        for order in (opened, never_opened):
            assert (await status(client, order["order_no"]))["status"] == "unpaid"
        assert await count(db, "SELECT count(*) FROM payment_notifies") == 0

    async def test_gateway_down_changes_nothing(
        self,
        client: httpx.AsyncClient,
        db: Sessions,
        settings: Settings,
        clock: FrozenClock,
        run_jobs: Any,
        worker_runtime: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        def down(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        registry = from_settings(settings, transport=httpx.MockTransport(down))
        monkeypatch.setattr(worker_runtime, "gateways", registry)
        await make_product(db)
        order = await place_order(client)
        clock.advance(minutes=2)
        await run_query_job(run_jobs)
        assert (await status(client, order["order_no"]))["status"] == "unpaid"
        # The job itself ran to the end (the worker may also have run the periodic one).
        jobs = "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'payments.query_pending'"
        assert await count(db, jobs + " AND status = 'succeeded'") >= 1
        assert await count(db, jobs + " AND status <> 'succeeded'") == 0


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
