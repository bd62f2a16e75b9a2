"""The 易支付 V2 sandbox checks merchant requests as the platform does (RSA,
±300 s) and signs its answers, written independently of the adapter."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from kameng.sandbox import rsa_sign
from kameng.sandbox.epay_v2_store import signing_string
from tests.e2e.test_epay_v2_roundtrip import PID, sandbox_app
from tests.rsa_keys import keypair

_merchant = rsa_sign.load_private(keypair("epay_v2_merchant").private_pem())
_stranger = rsa_sign.load_private(keypair("stranger").private_pem())
_platform_public = rsa_sign.load_public(keypair("epay_v2_platform").public_pem())


def request(fields: dict[str, str], key: Any = _merchant, skew: int = 0) -> dict[str, str]:
    fields = {"pid": PID, "timestamp": str(int(time.time()) + skew)} | fields
    return fields | {"sign": rsa_sign.sign(key, signing_string(fields)), "sign_type": "RSA"}


ORDER = {
    "type": "alipay",
    "out_trade_no": "V2-1",
    "notify_url": "http://shop.test/notify/epay_v2",
    "return_url": "http://shop.test/o/1",
    "name": "点卡",
    "money": "3.00",
    "clientip": "10.0.0.1",
    "method": "web",
}


@pytest.fixture
async def epay() -> AsyncIterator[httpx.AsyncClient]:
    app = sandbox_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://epay.test"
    ) as client:
        yield client
    await app.state.aclose()


def platform_signed(answer: dict[str, Any]) -> bool:
    return rsa_sign.verify(_platform_public, signing_string(answer), answer["sign"])


async def test_create_query_refund(epay: httpx.AsyncClient) -> None:
    created = (await epay.post("/api/pay/create", data=request(ORDER))).json()
    assert created["code"] == 0 and platform_signed(created)
    await epay.post(f"/sandbox/trades/{created['trade_no']}/pay", data={"outcome": "silent"})
    answer = (await epay.post("/api/pay/query", data=request({"out_trade_no": "V2-1"}))).json()
    assert (answer["code"], answer["status"], answer["money"]) == (0, 1, "3.00")
    assert platform_signed(answer)
    refund = request({"out_trade_no": "V2-1", "money": "1.00", "out_refund_no": "RF1"})
    first = (await epay.post("/api/pay/refund", data=refund)).json()
    again = (await epay.post("/api/pay/refund", data=refund)).json()
    assert first["code"] == again["code"] == 0
    assert first["refund_no"] == again["refund_no"]  # idempotent by out_refund_no
    answer = (await epay.post("/api/pay/query", data=request({"out_trade_no": "V2-1"}))).json()
    assert answer["refundmoney"] == "1.00"


@pytest.mark.parametrize(
    ("fields", "msg"),
    [
        # Built when the test runs, not at collection: a timestamp signed minutes
        # before the test (a slow suite) would be stale for the wrong reason.
        (lambda: request(ORDER, _stranger), "签名校验失败"),
        (lambda: request(ORDER, skew=-400), "时间戳(timestamp)已过期"),
        (lambda: request(ORDER, skew=400), "时间戳(timestamp)已过期"),
        (lambda: request(ORDER) | {"money": "0.01"}, "签名校验失败"),
        (lambda: request(ORDER) | {"pid": "9"}, "商户不存在"),
        (lambda: request(ORDER) | {"sign_type": "MD5"}, "签名类型错误"),
    ],
)
async def test_refused_requests(
    epay: httpx.AsyncClient, fields: Callable[[], dict[str, str]], msg: str
) -> None:
    answer = (await epay.post("/api/pay/create", data=fields())).json()
    assert (answer["code"], answer["msg"]) == (-1, msg)


async def test_unknown_order(epay: httpx.AsyncClient) -> None:
    answer = (await epay.post("/api/pay/query", data=request({"out_trade_no": "NO"}))).json()
    assert (answer["code"], answer["msg"]) == (-1, "订单号不存在")
