"""epay-sdk (PyPI, an independent 易支付 V1 client) driven against our epay
sandbox on a real port: the submit.php link it signs opens the cashier, and the
notify and return the sandbox sends verify with its MD5 check. Its order query
signs the request instead of sending ``key``; 彩虹易支付's api.php?act=order
checks ``key`` only, so the sandbox refuses it exactly as the platform does."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import requests
from epay_sdk.client import EPayClient
from epay_sdk.config import EPayConfig
from epay_sdk.exceptions import EPaySignError
from epay_sdk.models import CreateOrderRequest, QueryOrderRequest

from kameng.sandbox.epay import create_app
from tests.support.live import serve_app

PID, KEY = "1001", "sdk-test-merchant-key-0123456789"
notifies: list[str] = []
notified = threading.Event()


def receive(request: httpx.Request) -> httpx.Response:
    notifies.append(str(request.url))
    notified.set()
    return httpx.Response(200, text="success")


@pytest.fixture(scope="module")
def live() -> Iterator[str]:
    app = create_app(
        merchants={PID: KEY}, time_scale=0.0001, http_transport=httpx.MockTransport(receive)
    )
    with serve_app(app) as base:
        yield base


def sdk(base: str, key: str = KEY) -> EPayClient:
    return EPayClient(EPayConfig(pid=PID, key=key, base_url=base, environment="sandbox"))


def pay(client: EPayClient, live: str, out_trade_no: str) -> tuple[str, dict[str, str]]:
    """Open the link the SDK signed, pay on the cashier; (trade_no, return fields)."""
    url = client.create_order_url(
        CreateOrderRequest(
            out_trade_no=out_trade_no,
            name="测试点卡",
            money="12.3",
            notify_url="http://shop.test/notify/epay",
            return_url=f"http://shop.test/o/{out_trade_no}",
            pay_type="alipay",
        )
    )
    assert url.startswith(f"{live}/submit.php?")
    cashier = requests.get(url, timeout=10)
    assert cashier.status_code == 200, cashier.text
    found = re.search(r'action="[^"]*/pay/(\d+)"', cashier.text)
    assert found is not None
    paid = requests.post(f"{live}/pay/{found.group(1)}", allow_redirects=False, timeout=10)
    assert paid.status_code == 302
    return found.group(1), dict(parse_qsl(urlsplit(paid.headers["location"]).query))


def test_sdk_signed_order_pays_and_its_notify_verifies(live: str) -> None:
    client = sdk(live)
    trade_no, back = pay(client, live, "SDK-ORDER-1")
    assert client.verify_callback(back).trade_no == trade_no

    assert notified.wait(10)
    fields = dict(parse_qsl(urlsplit(notifies[0]).query))
    result = client.verify_callback(fields)
    assert (result.pid, result.out_trade_no, result.money, result.trade_status) == (
        PID,
        "SDK-ORDER-1",
        "12.30",
        "TRADE_SUCCESS",
    )
    assert client.is_trade_success(fields)
    with pytest.raises(EPaySignError):
        client.verify_callback(fields | {"money": "99.00"})
    with pytest.raises(EPaySignError):
        sdk(live, key="another-merchant-key").verify_callback(fields)


def test_a_link_signed_with_another_key_is_refused(live: str) -> None:
    url = sdk(live, key="another-merchant-key").create_order_url(
        CreateOrderRequest(
            "SDK-ORDER-2", "点卡", "1.00", "http://s.test/n", "http://s.test/r", "alipay"
        )
    )
    refused = requests.get(url, timeout=10)
    assert refused.status_code == 400
    assert "签名校验失败" in refused.text


def test_the_sdks_signed_query_is_refused_for_want_of_key(live: str) -> None:
    """Not a sandbox gap: the real api.php?act=order takes pid and key."""
    pay(sdk(live), live, "SDK-ORDER-3")
    answer = sdk(live).query_order(QueryOrderRequest(out_trade_no="SDK-ORDER-3"))
    assert answer == {"code": -1, "msg": "KEY校验失败"}
    with_key = requests.get(
        f"{live}/api.php",
        params={"act": "order", "pid": PID, "key": KEY, "out_trade_no": "SDK-ORDER-3"},
        timeout=10,
    ).json()
    parsed = sdk(live).parse_query_result(with_key)
    assert (parsed.query_ok, parsed.paid, parsed.amount, parsed.order_no) == (
        True,
        False,  # epay answers status=1, not trade_status: this SDK cannot tell it is paid
        "12.30",
        "SDK-ORDER-3",
    )
    assert with_key["status"] == 1
