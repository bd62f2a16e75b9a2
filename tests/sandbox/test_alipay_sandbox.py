"""The Alipay sandbox speaks Alipay's protocol: python-alipay-sdk, an independent
client, signs requests it accepts and verifies every answer and notify it sends."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from alipay import AliPay

from kameng.payments.gateways.alipay_bill import detail_text, parse_detail
from kameng.sandbox.alipay import create_app
from kameng.sandbox.persist import JsonFile
from tests.rsa_keys import keypair
from tests.support.live import serve_app

APP_ID = "2021000000000002"
SELLER_ID = "2088000000000002"


def sdk(app_key: str = "alipay_app") -> AliPay:
    return AliPay(
        appid=APP_ID,
        app_notify_url=None,
        app_private_key_string=keypair(app_key).private_pem(),
        alipay_public_key_string=keypair("alipay_platform").public_pem(),
        sign_type="RSA2",
    )


def sandbox_app(**extra: Any) -> Any:
    return create_app(
        app_id=APP_ID,
        app_public_pem=keypair("alipay_app").public_pem(),
        alipay_private_pem=keypair("alipay_platform").private_pem(),
        seller_id=SELLER_ID,
        **extra,
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The sandbox on a real port: the SDK makes its own (urllib) HTTP calls."""
    state = JsonFile(tmp_path_factory.mktemp("alipay") / "trades.json")
    with serve_app(sandbox_app(state_file=state)) as base:
        yield base


def client_for(live: str, app_key: str = "alipay_app") -> AliPay:
    client = sdk(app_key)
    client._gateway = f"{live}/gateway.do"  # the SDK knows only Alipay's two hosts
    return client


async def open_page_pay(live: str, out_trade_no: str, amount: str = "12.30") -> str:
    query = client_for(live).api_alipay_trade_page_pay(
        subject="点卡", out_trade_no=out_trade_no, total_amount=amount,
        return_url="http://shop.test/o/1", notify_url="http://shop.test/notify/alipay",
    )  # fmt: skip
    async with httpx.AsyncClient() as http:
        cashier = await http.get(f"{live}/gateway.do?{query}")
    assert cashier.status_code == 200, cashier.text
    assert "确认付款" in cashier.text and "12.30" in cashier.text
    return cashier.text


async def test_sdk_page_pay_query_refund_roundtrip(live: str) -> None:
    await open_page_pay(live, "SDK-0001")
    client = client_for(live)
    waiting = await asyncio.to_thread(client.api_alipay_trade_query, out_trade_no="SDK-0001")
    assert (waiting["code"], waiting["trade_status"], waiting["total_amount"]) == (
        "10000",
        "WAIT_BUYER_PAY",
        "12.30",
    )
    async with httpx.AsyncClient() as http:
        paid = await http.post(f"{live}/sandbox/trades/SDK-0001/pay", data={"outcome": "silent"})
    assert paid.json()["trade_status"] == "TRADE_SUCCESS"
    answer = await asyncio.to_thread(client.api_alipay_trade_query, out_trade_no="SDK-0001")
    assert (answer["trade_status"], answer["total_amount"], answer["out_trade_no"]) == (
        "TRADE_SUCCESS",
        "12.30",
        "SDK-0001",
    )
    assert len(answer["trade_no"]) == 28

    refund = await asyncio.to_thread(
        client.api_alipay_trade_refund, "2.30", out_trade_no="SDK-0001", out_request_no="R1"
    )
    again = await asyncio.to_thread(
        client.api_alipay_trade_refund, "2.30", out_trade_no="SDK-0001", out_request_no="R1"
    )
    assert (refund["fund_change"], again["fund_change"]) == ("Y", "N")  # idempotent
    assert refund["refund_fee"] == again["refund_fee"] == "2.30"
    found = await asyncio.to_thread(
        client.api_alipay_trade_fastpay_refund_query, "R1", out_trade_no="SDK-0001"
    )
    assert (found["refund_amount"], found["refund_status"]) == ("2.30", "REFUND_SUCCESS")
    too_much = await asyncio.to_thread(
        client.api_alipay_trade_refund, "10.01", out_trade_no="SDK-0001", out_request_no="R2"
    )
    assert (too_much["code"], too_much["sub_code"]) == ("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")


async def test_unknown_trade_is_trade_not_exist(live: str) -> None:
    answer = await asyncio.to_thread(client_for(live).api_alipay_trade_query, out_trade_no="NOPE")
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")


async def test_a_request_signed_with_another_key_is_refused(live: str) -> None:
    answer = await asyncio.to_thread(
        client_for(live, "stranger").api_alipay_trade_query, out_trade_no="SDK-0001"
    )
    assert (answer["code"], answer["sub_code"]) == ("40002", "isv.invalid-signature")
    query = client_for(live, "stranger").api_alipay_trade_page_pay(
        subject="x", out_trade_no="SDK-0002", total_amount="1.00"
    )
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{live}/gateway.do?{query}")
    assert page.status_code == 400 and "isv.invalid-signature" in page.text


async def test_changed_amount_for_the_same_order_is_refused(live: str) -> None:
    await open_page_pay(live, "SDK-0003")
    query = client_for(live).api_alipay_trade_page_pay(
        subject="点卡", out_trade_no="SDK-0003", total_amount="0.01"
    )
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{live}/gateway.do?{query}")
    assert page.status_code == 400 and "ACQ.CONTEXT_INCONSISTENT" in page.text


@pytest.fixture
async def captured(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, list[httpx.Request]]]:
    seen: list[httpx.Request] = []
    answers = iter(["fail", "oops", "success"])

    def merchant(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=next(answers, "success"))

    app = sandbox_app(
        time_scale=0.00001,
        http_transport=httpx.MockTransport(merchant),
        state_file=JsonFile(tmp_path / "t.json"),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://alipay.test"
    ) as c:
        yield c, seen
    await app.state.aclose()


async def test_notify_is_a_form_post_the_sdk_verifies_and_retried_until_success(
    captured: tuple[httpx.AsyncClient, list[httpx.Request]],
) -> None:
    client, seen = captured
    query = sdk().api_alipay_trade_wap_pay(
        subject="点卡", out_trade_no="N-1", total_amount="5.00",
        notify_url="http://shop.test/notify/alipay",
    )  # fmt: skip
    assert (await client.get(f"/gateway.do?{query}")).status_code == 200
    await client.post("/sandbox/trades/N-1/pay", data={"outcome": "notify"})
    async with asyncio.timeout(5):
        while (await client.get("/sandbox/trades/N-1")).json()["notify_state"] != "acked":  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert len(seen) == 3
    for request in seen:
        assert request.method == "POST"
        assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
        fields = dict(parse_qsl(request.content.decode()))
        sign = fields.pop("sign")
        assert sdk().verify(fields, sign)  # pops sign_type, checks RSA2 with Alipay's key
        assert (fields["app_id"], fields["seller_id"], fields["total_amount"]) == (
            APP_ID,
            SELLER_ID,
            "5.00",
        )
        assert fields["trade_status"] == "TRADE_SUCCESS"
        assert fields["notify_type"] == "trade_status_sync"


def test_retry_schedule_is_alipays() -> None:
    from kameng.sandbox.alipay_store import NOTIFY_OFFSETS_MINUTES

    # first notify, then 4m, 10m, 10m, 1h, 2h, 6h, 15h after the previous one
    assert NOTIFY_OFFSETS_MINUTES == (0, 4, 14, 24, 84, 204, 564, 1464)


@pytest.mark.parametrize("amount", ["1e999999999", "NaN", "-1.00", "0.001", "abc", ""])
async def test_bad_amounts_are_argument_errors_not_crashes(
    captured: tuple[httpx.AsyncClient, list[httpx.Request]], amount: str
) -> None:
    client, _seen = captured
    query = sdk().api_alipay_trade_page_pay(subject="x", out_trade_no="BAD-1", total_amount=amount)
    page = await client.get(f"/gateway.do?{query}")
    assert page.status_code == 400 and "isv.invalid-parameter" in page.text


@pytest.mark.parametrize(
    "query", ["", "app_id=1", "method=alipay.trade.query&sign=x", "biz_content=%FF%FE"]
)
async def test_garbage_gets_an_error_response(
    captured: tuple[httpx.AsyncClient, list[httpx.Request]], query: str
) -> None:
    client, _seen = captured
    answer = await client.get(f"/gateway.do?{query}")
    assert answer.status_code < 500


async def test_sdk_verifies_the_return_sees_a_refused_refund_and_reads_the_bill(
    live: str,
) -> None:
    """The SDK as the merchant's client: the browser return's signature, a refund
    the sandbox was told to refuse, and the bill through its generic server_api."""
    cashier = await open_page_pay(live, "SDK-0100")
    found = re.search(r'action="/sandbox/pay/(\d{28})"', cashier)
    assert found is not None
    async with httpx.AsyncClient() as http:
        paid = await http.post(
            f"{live}/sandbox/pay/{found.group(1)}",
            data={"outcome": "silent", "refund_outcome": "refund_fails"},
        )
    assert paid.status_code == 302
    back = dict(parse_qsl(urlsplit(paid.headers["location"]).query))
    sign = back.pop("sign")
    client = client_for(live)
    assert back["method"] == "alipay.trade.page.pay.return"
    assert client.verify(dict(back), sign)
    assert not client.verify(back | {"total_amount": "99.99"}, sign)

    refused = await asyncio.to_thread(
        client.api_alipay_trade_refund, "1.00", out_trade_no="SDK-0100", out_request_no="F1"
    )
    assert (refused["code"], refused["sub_code"]) == ("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH")

    day = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    answer = await asyncio.to_thread(
        client.server_api,
        "alipay.data.dataservice.bill.downloadurl.query",
        {"bill_type": "trade", "bill_date": day.isoformat()},
    )
    assert answer["code"] == "10000"
    async with httpx.AsyncClient() as http:
        archive = (await http.get(answer["bill_download_url"])).content
    payments, refunds = parse_detail(detail_text(archive), day)
    assert [
        (p.out_trade_no, p.trade_no, p.amount_cents)
        for p in payments
        if p.out_trade_no == "SDK-0100"
    ] == [("SDK-0100", found.group(1), 1230)]
    assert [r for r in refunds if r.out_trade_no == "SDK-0100"] == []  # the refund was refused
