"""The WeChat Pay sandbox speaks the real v3 protocol: proven by driving it with
the third-party ``wechatpayv3`` client over a real socket, in both platform
modes (微信支付公钥 and platform certificate)."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from wechatpayv3 import WeChatPay, WeChatPayType

from kameng.sandbox.wechatpay.app import create_app
from kameng.sandbox.wechatpay.keys import Identity, load_or_create
from kameng.sandbox.wechatpay.notifier import RETRY_INTERVALS_SECONDS
from tests.support.live import serve_app

NOTIFY_URL = "https://shop.example/notify/wechatpay"


class Served:
    def __init__(self, app: Any, identity: Identity, received: list[httpx.Request]) -> None:
        self.app, self.identity, self.received = app, identity, received
        self.base = ""


def serve(data_dir: Path, serial_mode: str, answers: list[int]) -> Iterator[Served]:
    """The sandbox on a real port; its notifies land in ``received`` and get
    the statuses in ``answers`` (then 204)."""
    received: list[httpx.Request] = []

    def merchant(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(answers.pop(0) if answers else 204)

    app = create_app(
        data_dir=data_dir,
        time_scale=1e-5,
        http_transport=httpx.MockTransport(merchant),
        serial_mode=serial_mode,
    )
    with serve_app(app) as base:
        served = Served(app, app.state.identity, received)
        served.base = base
        yield served


def client(served: Served, *, certificate_mode: bool = False) -> WeChatPay:
    identity = served.identity
    public: dict[str, Any] = (
        {}
        if certificate_mode
        else {
            "public_key": identity.platform_public_key_file.read_text(),
            "public_key_id": identity.public_key_id,
        }
    )
    # The library's gateway is fixed to api.mch.weixin.qq.com and certificate
    # mode downloads /v3/certificates inside the constructor: aim it here first.
    from wechatpayv3 import core

    init_certificates = core.Core._init_certificates

    def aimed(self: Any) -> None:
        self._gate_way = served.base
        init_certificates(self)

    core.Core._init_certificates = aimed  # type: ignore[method-assign]
    try:
        wxpay = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=identity.mchid,
            private_key=identity.merchant_key_file.read_text(),
            cert_serial_no=identity.merchant_serial_no,
            appid=identity.appid,
            apiv3_key=identity.apiv3_key,
            notify_url=NOTIFY_URL,
            **public,
        )
    finally:
        core.Core._init_certificates = init_certificates  # type: ignore[method-assign]
    wxpay._core._gate_way = served.base
    return wxpay


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path, "public_key", [])


def wait_until(predicate: Any) -> None:
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_native_h5_query_and_the_notify_with_wechatpayv3(sandbox: Served) -> None:
    wxpay = client(sandbox)
    code, message = wxpay.pay(
        description="游戏点卡 10 元", out_trade_no="5109842810772442", amount={"total": 1000}
    )
    assert code == 200
    assert json.loads(message)["code_url"].startswith("weixin://wxpay/bizpayurl?pr=wx")
    code, message = wxpay.pay(
        description="游戏点卡 10 元",
        out_trade_no="5109842810772443",
        amount={"total": 1000},
        pay_type=WeChatPayType.H5,
        scene_info={"payer_client_ip": "1.2.3.4", "h5_info": {"type": "Wap"}},
    )
    assert code == 200
    assert "/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx" in json.loads(message)["h5_url"]

    code, message = wxpay.query(out_trade_no="5109842810772442")
    assert code == 200 and json.loads(message)["trade_state"] == "NOTPAY"
    code, message = wxpay.query(out_trade_no="0000000000000000")
    assert code == 404 and json.loads(message)["code"] == "ORDER_NOT_EXIST"

    httpx.post(f"{sandbox.base}/sandbox/trades/5109842810772442/pay")
    wait_until(lambda: len(sandbox.received) == 1)
    code, message = wxpay.query(out_trade_no="5109842810772442")
    paid = json.loads(message)
    assert code == 200 and paid["trade_state"] == "SUCCESS" and paid["amount"]["total"] == 1000

    notify = sandbox.received[0]
    assert notify.method == "POST" and str(notify.url) == NOTIFY_URL
    envelope = wxpay.callback(dict(notify.headers), notify.content.decode())
    assert envelope["event_type"] == "TRANSACTION.SUCCESS"
    assert envelope["resource"]["transaction_id"] == paid["transaction_id"]
    assert envelope["resource"]["amount"]["total"] == 1000
    assert notify.headers["wechatpay-serial"] == sandbox.identity.public_key_id
    # Any other body under the same headers is refused by the client library too.
    assert wxpay.callback(dict(notify.headers), notify.content.decode() + " ") is None


def test_refund_is_idempotent_by_out_refund_no_and_notified(sandbox: Served) -> None:
    wxpay = client(sandbox)
    wxpay.pay(description="点卡", out_trade_no="5109842810772444", amount={"total": 500})
    httpx.post(f"{sandbox.base}/sandbox/trades/5109842810772444/pay")
    wait_until(lambda: len(sandbox.received) == 1)
    amount = {"refund": 200, "total": 500, "currency": "CNY"}
    first = wxpay.refund(out_refund_no="R1", amount=amount, out_trade_no="5109842810772444")
    again = wxpay.refund(out_refund_no="R1", amount=amount, out_trade_no="5109842810772444")
    assert first[0] == again[0] == 200
    assert json.loads(first[1])["refund_id"] == json.loads(again[1])["refund_id"]
    too_much = {"refund": 301, "total": 500, "currency": "CNY"}
    code, message = wxpay.refund(
        out_refund_no="R2", amount=too_much, out_trade_no="5109842810772444"
    )
    assert code == 400 and "超过" in json.loads(message)["message"]
    wait_until(lambda: len(sandbox.received) == 2)
    envelope = wxpay.callback(dict(sandbox.received[1].headers), sandbox.received[1].content)
    assert envelope["event_type"] == "REFUND.SUCCESS"
    assert envelope["resource"]["out_refund_no"] == "R1"
    assert envelope["resource"]["amount"]["refund"] == 200
    code, message = wxpay.query_refund(out_refund_no="R1")
    assert code == 200 and json.loads(message)["status"] == "SUCCESS"


def test_trade_bill_download(sandbox: Served) -> None:
    wxpay = client(sandbox)
    wxpay.pay(description="点卡", out_trade_no="5109842810772445", amount={"total": 1234})
    httpx.post(f"{sandbox.base}/sandbox/trades/5109842810772445/pay")
    paid = httpx.get(f"{sandbox.base}/sandbox/trades/5109842810772445").json()
    day = paid["success_time"][:10]
    code, message = wxpay.trade_bill(bill_date=day)
    assert code == 200
    code, content = wxpay.download_bill(json.loads(message)["download_url"])
    assert code == 200
    lines = gzip.decompress(content).decode().splitlines()
    assert lines[0].startswith("交易时间,公众账号ID,商户号")
    assert f"`{paid['transaction_id']},`5109842810772445," in lines[1]
    assert lines[-1].startswith("`1,`12.34,")


def test_certificate_mode_downloads_and_decrypts_the_platform_certificate(
    tmp_path: Path,
) -> None:
    for served in serve(tmp_path, "certificate", []):
        wxpay = client(served, certificate_mode=True)
        assert len(wxpay._core._certificates) == 1
        code, message = wxpay.pay(
            description="点卡", out_trade_no="5109842810772446", amount={"total": 1}
        )
        assert code == 200 and "code_url" in json.loads(message)


def test_wrong_signature_and_stale_timestamp_are_refused(sandbox: Served) -> None:
    identity = sandbox.identity
    body = json.dumps({"appid": identity.appid, "mchid": identity.mchid})
    forged = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{identity.mchid}",nonce_str="abc",'
        f'signature="AAAA",timestamp="{int(time.time())}",serial_no="{identity.merchant_serial_no}"'
    )
    answer = httpx.post(
        f"{sandbox.base}/v3/pay/transactions/native",
        content=body,
        headers={"Authorization": forged, "Content-Type": "application/json"},
    )
    assert answer.status_code == 401 and answer.json()["code"] == "SIGN_ERROR"
    assert answer.headers["wechatpay-serial"] == identity.public_key_id
    unsigned = httpx.get(f"{sandbox.base}/v3/pay/transactions/out-trade-no/1?mchid=1")
    assert unsigned.status_code == 401


def test_trades_survive_a_restart_and_notifies_retry_on_schedule(tmp_path: Path) -> None:
    assert RETRY_INTERVALS_SECONDS == (
        15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600
    )  # fmt: skip
    assert sum(RETRY_INTERVALS_SECONDS) == 24 * 3600 + 4 * 60
    for served in serve(tmp_path, "public_key", [500, 404]):
        wxpay = client(served)
        wxpay.pay(description="点卡", out_trade_no="5109842810772447", amount={"total": 100})
        httpx.post(f"{served.base}/sandbox/trades/5109842810772447/pay")
        wait_until(lambda got=served.received: len(got) == 3)
        trade = httpx.get(f"{served.base}/sandbox/trades/5109842810772447").json()
        assert [a["status"] for a in trade["notify_attempts"]] == [500, 404, 204]
        assert trade["notify_state"] == "acked"
        nonces = {r.headers["wechatpay-nonce"] for r in served.received}
        assert len(nonces) == 3  # every delivery is signed afresh
    identity, created = load_or_create(tmp_path)
    assert not created and identity.mchid == served.identity.mchid
    for served in serve(tmp_path, "public_key", []):
        code, message = client(served).query(out_trade_no="5109842810772447")
        assert code == 200 and json.loads(message)["trade_state"] == "SUCCESS"


def test_pay_later_pays_after_the_delay_even_across_a_restart(tmp_path: Path) -> None:
    for served in serve(tmp_path, "public_key", []):
        served.app.state.wechatpay.time_scale = 1000.0  # 60 s → 16 h: not while it runs
        wxpay = client(served)
        wxpay.pay(description="点卡", out_trade_no="5109842810772448", amount={"total": 100})
        httpx.post(f"{served.base}/sandbox/trades/5109842810772448/pay?outcome=pay_later")
        trade = httpx.get(f"{served.base}/sandbox/trades/5109842810772448").json()
        assert (trade["trade_state"], trade["outcome"]) == ("NOTPAY", "pay_later")
    for served in serve(tmp_path, "public_key", []):  # restarted: the payment goes ahead
        wait_until(lambda got=served.received: len(got) == 1)
        code, message = client(served).query(out_trade_no="5109842810772448")
        assert code == 200 and json.loads(message)["trade_state"] == "SUCCESS"
