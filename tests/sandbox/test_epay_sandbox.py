"""The epay sandbox speaks Rainbow Epay V1 exactly: create, cashier, pay, notify, query."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from kameng.payments.gateways.epay_sign import sign, verify
from kameng.sandbox.epay import EpaySandbox, create_app
from kameng.sandbox.epay_store import EpayStore, Trade, php_money

PID, KEY = "1001", "sandbox-merchant-key"
OTHER_PID, OTHER_KEY = "2002", "other-merchant-key"
SCALE = 0.0001  # the whole 55-minute schedule takes 0.33 s
NOTIFY_URL = "http://shop.test/notify/epay"
RETURN_URL = "http://shop.test/return"
START = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)  # 20:00:00 in China


class MutableClock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Receiver:
    """The merchant's notify endpoint, in process, with scripted replies."""

    replies: list[str] = field(default_factory=list)
    default: str = "success"
    calls: list[str] = field(default_factory=list)  # raw query strings
    paths: list[str] = field(default_factory=list)
    at: list[float] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.calls.append(scope["query_string"].decode())
        self.paths.append(f"{scope['method']} {scope['path']}")
        self.at.append(asyncio.get_running_loop().time())
        body = self.replies.pop(0) if self.replies else self.default
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})

    def params(self, index: int) -> dict[str, str]:
        return dict(parse_qsl(self.calls[index], keep_blank_values=True))


@dataclass
class Env:
    client: httpx.AsyncClient
    sandbox: EpaySandbox
    receiver: Receiver
    clock: MutableClock


async def _make_env(transport: httpx.AsyncBaseTransport | None = None) -> Env:
    receiver = Receiver()
    clock = MutableClock()
    app = create_app(
        merchants={PID: KEY, OTHER_PID: OTHER_KEY},
        time_scale=SCALE,
        http_transport=transport or httpx.ASGITransport(app=receiver),
        clock=clock,
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://epay.test")
    return Env(client, app.state.epay, receiver, clock)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    made = await _make_env()
    yield made
    await made.sandbox.aclose()
    await made.client.aclose()


def signed(key: str = KEY, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "pid": PID,
        "type": "alipay",
        "out_trade_no": "K20261125001",
        "notify_url": NOTIFY_URL,
        "return_url": RETURN_URL,
        "name": "Steam 充值卡 50元",
        "money": "1.00",
        **overrides,
    }
    clean = {k: v for k, v in params.items() if v is not None}
    return {**clean, "sign": sign(clean, key), "sign_type": "MD5"}


def error_message(response: httpx.Response) -> str:
    match = re.search(r'<p class="error">(.*?)</p>', response.text)
    assert match, response.text
    return html.unescape(match.group(1))


def pay_action(response: httpx.Response) -> str:
    match = re.search(r'<form method="post" action="http://epay\.test/pay/(\d+)">', response.text)
    assert match, response.text
    return match.group(1)


async def submit(env: Env, **overrides: str | None) -> str:
    response = await env.client.get("/submit.php", params=signed(**overrides))
    assert response.status_code == 200, response.text
    return pay_action(response)


async def trade_json(env: Env, trade_no: str) -> dict[str, Any]:
    response = await env.client.get(f"/sandbox/trades/{trade_no}")
    assert response.status_code == 200
    return dict(response.json())


async def wait_for(
    env: Env, trade_no: str, done: Callable[[dict[str, Any]], bool], within: float = 5.0
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        data = await trade_json(env, trade_no)
        if done(data):
            return data
        assert loop.time() < deadline, data
        await asyncio.sleep(0.003)


def settled(data: dict[str, Any]) -> bool:
    return data["notify"] != 0 and not data["delivering"]


# -- submit.php -----------------------------------------------------------------------


async def test_submit_with_valid_signature_shows_the_cashier(env: Env) -> None:
    response = await env.client.get("/submit.php", params=signed())
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    trade_no = pay_action(response)
    assert re.fullmatch(r"20261125200000\d{6}", trade_no)
    for text in ("收银台", "￥1.00", "Steam 充值卡 50元", "K20261125001", "支付宝", "确认支付"):
        assert text in page
    assert '<a class="cancel" href="http://shop.test/return">取消</a>' in page
    assert 'name="viewport"' in page
    assert "http://" not in page.replace("http://epay.test/pay/", "").replace(RETURN_URL, "")


async def test_submit_by_post_form_works_too(env: Env) -> None:
    response = await env.client.post("/submit.php", data=signed())
    assert response.status_code == 200
    trade = env.sandbox.store.get(pay_action(response))
    assert trade is not None and trade.cents == 100 and trade.type == "alipay"


@pytest.mark.parametrize("pay_type", [None, "", "bank-of-nowhere"])
async def test_submit_without_known_type_shows_a_chooser(env: Env, pay_type: str | None) -> None:
    response = await env.client.get("/submit.php", params=signed(type=pay_type))
    radios = re.findall(r'<input type="radio" name="type" value="(\w+)" required>', response.text)
    assert radios == ["alipay", "wxpay", "qqpay"]
    trade_no = pay_action(response)
    refused = await env.client.post(f"/pay/{trade_no}")
    assert refused.status_code == 400 and error_message(refused) == "请选择支付方式"
    paid = await env.client.post(f"/pay/{trade_no}", data={"type": "wxpay"})
    assert paid.status_code == 302
    assert dict(parse_qsl(urlsplit(paid.headers["location"]).query))["type"] == "wxpay"


def _tampered(**changes: str) -> dict[str, str]:
    return {**signed(), **changes}


def _without(name: str) -> dict[str, str]:
    return {k: v for k, v in signed().items() if k != name}


REJECTED_SUBMITS: list[tuple[str, dict[str, str], str]] = [
    ("wrong key", signed(key="not-the-key"), "签名校验失败，请返回重试！"),
    ("money changed after signing", _tampered(money="0.01"), "签名校验失败，请返回重试！"),
    (
        "sign missing",
        {k: v for k, v in signed().items() if k != "sign"},
        "签名校验失败，请返回重试！",
    ),
    ("unknown pid", signed(pid="9999"), "商户不存在！"),
    ("empty pid", signed(pid=""), "PID不存在"),
    ("out_trade_no with a space", signed(out_trade_no="K 1"), "订单号(out_trade_no)格式不正确"),
    ("out_trade_no in Chinese", signed(out_trade_no="订单1"), "订单号(out_trade_no)格式不正确"),
    ("out_trade_no with a slash", signed(out_trade_no="a/b"), "订单号(out_trade_no)格式不正确"),
    ("no out_trade_no", signed(out_trade_no=None), "订单号(out_trade_no)不能为空"),
    ("no notify_url", signed(notify_url=None), "通知地址(notify_url)不能为空"),
    ("no return_url", signed(return_url=""), "回调地址(return_url)不能为空"),
    ("no name", signed(name=None), "商品名称(name)不能为空"),
    ("no money", signed(money=None), "金额(money)不能为空"),
    ("money 0 (PHP empty)", signed(money="0"), "金额(money)不能为空"),
    ("money 0.00", signed(money="0.00"), "金额不合法"),
    ("money 1.001", signed(money="1.001"), "金额不合法"),
    ("money abc", signed(money="abc"), "金额不合法"),
    ("money negative", signed(money="-1"), "金额不合法"),
    ("money exponent", signed(money="1e2"), "金额不合法"),
    ("money with a space", signed(money=" 1"), "金额不合法"),
    ("money two dots", signed(money="1.2.3"), "金额不合法"),
    ("money too big", signed(money="100000000"), "金额不合法"),
]


@pytest.mark.parametrize(
    ("params", "message"),
    [pytest.param(p, m, id=i) for i, p, m in REJECTED_SUBMITS],
)
async def test_submit_rejections_have_epays_exact_messages(
    env: Env, params: dict[str, str], message: str
) -> None:
    response = await env.client.get("/submit.php", params=params)
    assert response.status_code == 400
    assert error_message(response) == message
    assert env.sandbox.store.trades == {}


async def test_submit_without_any_pid(env: Env) -> None:
    response = await env.client.post("/submit.php", data={"money": "1"})
    assert response.status_code == 400
    assert error_message(response) == "你还未配置支付接口商户！"


async def test_long_name_is_cut_at_127_bytes_on_a_character_boundary(env: Env) -> None:
    long_name = "卡" * 50  # 150 bytes
    trade_no = await submit(env, name=long_name)
    trade = env.sandbox.store.get(trade_no)
    assert trade is not None and trade.name == "卡" * 42  # 126 bytes
    assert await submit(env, name=long_name) == trade_no  # compared after the cut


# -- idempotent create ----------------------------------------------------------------


async def test_same_out_trade_no_reuses_the_trade(env: Env) -> None:
    first = await submit(env)
    assert await submit(env) == first
    assert await submit(env, type="wxpay") == first
    assert len(env.sandbox.store.trades) == 1
    other = await env.client.get("/submit.php", params=signed(key=OTHER_KEY, pid=OTHER_PID))
    assert pay_action(other) != first  # the key is (pid, out_trade_no)


@pytest.mark.parametrize(
    "change",
    [
        {"money": "1.01"},
        {"name": "另一个商品"},
        {"notify_url": "http://shop.test/other"},
        {"return_url": "http://shop.test/other"},
        {"param": "x"},
    ],
    ids=lambda c: next(iter(c)),
)
async def test_changed_parameters_are_rejected(env: Env, change: dict[str, str]) -> None:
    await submit(env)
    response = await env.client.get("/submit.php", params=signed(**change))
    assert response.status_code == 400
    assert error_message(response) == "该订单(K20261125001)支付参数有变化，请更换订单号重新发起支付"


async def test_money_compared_as_amount_not_text(env: Env) -> None:
    first = await submit(env, money="1.00")
    assert await submit(env, money="1") == first
    assert await submit(env, money="1.0") == first


async def test_paid_trade_cannot_be_created_again(env: Env) -> None:
    trade_no = await submit(env)
    await env.client.post(f"/pay/{trade_no}")
    response = await env.client.get("/submit.php", params=signed())
    assert error_message(response) == "该订单(K20261125001)已完成支付，请勿重复发起支付"
    api = await env.client.post("/mapi.php", data=signed(clientip="1.2.3.4"))
    assert api.json() == {"code": -1, "msg": "该订单(K20261125001)已完成支付，请勿重复发起支付"}


async def test_after_ten_days_the_same_out_trade_no_makes_a_new_trade(env: Env) -> None:
    first = await submit(env)
    env.clock.at = START + timedelta(days=10, seconds=1)
    second = await submit(env)
    assert second != first
    assert second.startswith("20261205200001")


# -- mapi.php -------------------------------------------------------------------------


async def test_mapi_creates_and_returns_a_payurl(env: Env) -> None:
    response = await env.client.post("/mapi.php", data=signed(clientip="1.2.3.4", device="mobile"))
    body = response.json()
    trade_no = body["trade_no"]
    assert body == {
        "code": 1,
        "msg": "succ",
        "trade_no": trade_no,
        "payurl": f"http://epay.test/cashier.php?trade_no={trade_no}",
    }
    again = await env.client.post("/mapi.php", data=signed(clientip="1.2.3.4"))
    assert again.json()["trade_no"] == trade_no
    cashier = await env.client.get(body["payurl"])
    assert cashier.status_code == 200 and pay_action(cashier) == trade_no
    browser = await env.client.get("/submit.php", params=signed())
    assert pay_action(browser) == trade_no


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (signed(), {"code": -1, "msg": "用户IP地址(clientip)不能为空"}),
        (signed(clientip="1.2.3.4", type=None), {"code": -1, "msg": "支付方式(type)不能为空"}),
        (signed(clientip="1.2.3.4", pid=""), {"code": -1, "msg": "商户ID不能为空"}),
        (signed(clientip="1.2.3.4", pid="77"), {"code": -1, "msg": "商户不存在！"}),
        (signed(OTHER_KEY, clientip="1.2.3.4"), {"code": -1, "msg": "签名校验失败，请返回重试！"}),
        (signed(clientip="1.2.3.4", money="1.001"), {"code": -1, "msg": "金额不合法"}),
        ({"money": "1"}, {"code": -4, "msg": "未传入任何参数"}),
    ],
    ids=["no clientip", "no type", "no pid", "unknown pid", "bad sign", "bad money", "empty"],
)
async def test_mapi_rejections(env: Env, params: dict[str, str], expected: dict[str, Any]) -> None:
    response = await env.client.post("/mapi.php", data=params)
    assert response.status_code == 200
    assert response.json() == expected


async def test_mapi_does_not_require_return_url(env: Env) -> None:
    response = await env.client.post("/mapi.php", data=signed(clientip="1.2.3.4", return_url=None))
    trade_no = response.json()["trade_no"]
    paid = await env.client.post(f"/pay/{trade_no}")
    assert paid.status_code == 200 and "支付成功" in paid.text


# -- pay and notify -------------------------------------------------------------------


def expected_fields(trade_no: str, money: str, **extra: str) -> dict[str, str]:
    fields = {
        "money": money,
        "name": "Steam 充值卡 50元",
        "out_trade_no": "K20261125001",
        "pid": PID,
        "trade_no": trade_no,
        "trade_status": "TRADE_SUCCESS",
        "type": "alipay",
        **extra,
    }
    joined = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
    return {**fields, "sign": hashlib.md5((joined + KEY).encode()).hexdigest(), "sign_type": "MD5"}


async def test_pay_redirects_signed_and_notifies_exactly_once(env: Env) -> None:
    trade_no = await submit(env)
    response = await env.client.post(f"/pay/{trade_no}")
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == RETURN_URL
    returned = dict(parse_qsl(location.query))
    assert returned == expected_fields(trade_no, "1")
    assert verify(returned, KEY)

    data = await wait_for(env, trade_no, settled)
    assert data["notify"] == 1 and data["status"] == 1
    assert env.receiver.paths == ["GET /notify/epay"]
    notified = env.receiver.params(0)
    assert notified == expected_fields(trade_no, "1")
    assert verify(notified, KEY)
    keys = [pair.split("=")[0] for pair in env.receiver.calls[0].split("&")]
    assert keys == [*sorted(notified.keys() - {"sign", "sign_type"}), "sign", "sign_type"]
    [attempt] = data["notify_attempts"]
    assert attempt["acked"] is True and attempt["http_status"] == 200 and attempt["error"] is None
    assert attempt["url"].startswith(NOTIFY_URL + "?")


@pytest.mark.parametrize(
    ("money", "sent"),
    [("1.00", "1"), ("1.50", "1.5"), ("12.34", "12.34"), ("0.10", "0.1"), ("100", "100")],
)
async def test_notify_money_is_formatted_like_a_php_float(env: Env, money: str, sent: str) -> None:
    trade_no = await submit(env, money=money)
    await env.client.post(f"/pay/{trade_no}")
    await wait_for(env, trade_no, settled)
    assert env.receiver.params(0) == expected_fields(trade_no, sent)


async def test_param_is_echoed_and_signed(env: Env) -> None:
    trade_no = await submit(env, param="uid=7&note=中文 +")
    response = await env.client.post(f"/pay/{trade_no}")
    returned = dict(parse_qsl(urlsplit(response.headers["location"]).query))
    expected = expected_fields(trade_no, "1", param="uid=7&note=中文 +")
    assert returned == expected
    await wait_for(env, trade_no, settled)
    assert env.receiver.params(0) == expected


async def test_notify_url_with_a_query_gets_fields_appended(env: Env) -> None:
    trade_no = await submit(env, notify_url=NOTIFY_URL + "?shop=1")
    await env.client.post(f"/pay/{trade_no}")
    await wait_for(env, trade_no, settled)
    assert env.receiver.calls[0].startswith("shop=1&money=1&")


def test_signature_against_a_fixed_hand_computed_vector() -> None:
    store = EpayStore(merchants={PID: KEY}, clock=lambda: START)
    trade = Trade(
        trade_no="20261125200000123456",
        out_trade_no="K20261125001",
        pid=PID,
        type="alipay",
        name="Steam 充值卡 50元",
        cents=150,
        notify_url=NOTIFY_URL,
        return_url=RETURN_URL,
        param=None,
        clientip="",
        device="pc",
        addtime=START,
        payurl="",
    )
    # md5("money=1.5&name=Steam 充值卡 50元&out_trade_no=K20261125001&pid=1001
    #      &trade_no=20261125200000123456&trade_status=TRADE_SUCCESS&type=alipay"
    #     + "sandbox-merchant-key")
    assert store.callback_fields(trade)["sign"] == "282637482fb11fd0325c2761e062344d"
    assert [php_money(c) for c in (1, 10, 100, 101, 110, 123456)] == [
        "0.01",
        "0.1",
        "1",
        "1.01",
        "1.1",
        "1234.56",
    ]


async def test_fail_fail_success_makes_exactly_three_attempts(env: Env) -> None:
    env.receiver.replies = ["fail", "fail", "success"]
    trade_no = await submit(env)
    await env.client.post(f"/pay/{trade_no}")
    data = await wait_for(env, trade_no, settled)
    assert data["notify"] == 1
    assert [a["acked"] for a in data["notify_attempts"]] == [False, False, True]
    await asyncio.sleep(60 * 55 * SCALE)  # past the end of the schedule
    assert len(env.receiver.calls) == 3
    assert len((await trade_json(env, trade_no))["notify_attempts"]) == 3


@pytest.mark.parametrize("ack", ["SUCCESS", "Success", "ok, success\n"])
async def test_ack_spellings(env: Env, ack: str) -> None:
    env.receiver.default = ack
    trade_no = await submit(env)
    await env.client.post(f"/pay/{trade_no}")
    data = await wait_for(env, trade_no, settled)
    assert data["notify"] == 1 and len(data["notify_attempts"]) == 1


async def test_never_acked_gives_up_after_five_attempts_on_schedule(env: Env) -> None:
    env.receiver.default = "sUcCeSs? no: fail"
    trade_no = await submit(env)
    paid_at = asyncio.get_running_loop().time()
    await env.client.post(f"/pay/{trade_no}")
    data = await wait_for(env, trade_no, settled)
    assert data["notify"] == -1
    assert len(data["notify_attempts"]) == 5
    assert [a["acked"] for a in data["notify_attempts"]] == [False] * 5
    offsets = [t - paid_at for t in env.receiver.at]
    for offset, minutes in zip(offsets, (0, 1, 3, 19, 55), strict=True):
        assert minutes * 60 * SCALE - 0.002 <= offset < minutes * 60 * SCALE + 0.25
    await asyncio.sleep(0.05)
    assert len(env.receiver.calls) == 5


async def test_network_errors_count_as_failed_attempts() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    made = await _make_env(httpx.MockTransport(refuse))
    try:
        trade_no = await submit(made)
        await made.client.post(f"/pay/{trade_no}")
        data = await wait_for(made, trade_no, settled)
        assert data["notify"] == -1
        errors = [a["error"] for a in data["notify_attempts"]]
        assert errors == ["ConnectError: connection refused"] * 5
        assert [a["http_status"] for a in data["notify_attempts"]] == [None] * 5
    finally:
        await made.sandbox.aclose()
        await made.client.aclose()


async def test_paying_twice_is_idempotent(env: Env) -> None:
    env.receiver.default = "fail"  # so a second schedule, if started, would show
    trade_no = await submit(env)
    first = await env.client.post(f"/sandbox/trades/{trade_no}/pay")
    body = first.json()
    assert body["code"] == 1 and body["paid_now"] is True and body["status"] == 1
    assert dict(parse_qsl(urlsplit(body["return_url"]).query)) == expected_fields(trade_no, "1")
    second = await env.client.post(f"/sandbox/trades/{trade_no}/pay")
    assert second.json()["paid_now"] is False and second.json()["msg"] == "订单已支付"
    button = await env.client.post(f"/pay/{trade_no}")
    assert button.status_code == 302
    assert len(env.sandbox.notifier.tasks) == 1
    await wait_for(env, trade_no, settled)
    await asyncio.sleep(0.05)
    assert len(env.receiver.calls) == 5
    cashier = await env.client.get(f"/cashier.php?trade_no={trade_no}")
    assert error_message(cashier) == "该订单(K20261125001)已完成支付，请勿重复发起支付"


async def test_renotify_resends_now(env: Env) -> None:
    env.receiver.default = "fail"
    trade_no = await submit(env)
    await env.client.post(f"/sandbox/trades/{trade_no}/pay")
    assert (await wait_for(env, trade_no, settled))["notify"] == -1
    env.receiver.default = "success"
    response = await env.client.post(f"/sandbox/trades/{trade_no}/renotify")
    body = response.json()
    assert body["code"] == 1 and body["acked"] is True and body["notify"] == 1
    assert body["attempt"]["acked"] is True
    data = await trade_json(env, trade_no)
    assert data["notify"] == 1 and len(data["notify_attempts"]) == 6
    assert env.receiver.params(5) == expected_fields(trade_no, "1")


async def test_renotify_refuses_unpaid_and_unknown(env: Env) -> None:
    trade_no = await submit(env)
    unpaid = await env.client.post(f"/sandbox/trades/{trade_no}/renotify")
    assert unpaid.status_code == 409 and unpaid.json()["code"] == -1
    unknown = await env.client.post("/sandbox/trades/123/renotify")
    assert unknown.status_code == 404 and unknown.json() == {"code": -1, "msg": "订单号不存在"}
    assert env.receiver.calls == []


# -- api.php --------------------------------------------------------------------------


async def test_api_order_by_trade_no_and_out_trade_no(env: Env) -> None:
    trade_no = await submit(env, param="p1")
    by_trade_no = await env.client.get(
        "/api.php", params={"act": "order", "pid": PID, "key": KEY, "trade_no": trade_no}
    )
    assert by_trade_no.json() == {
        "code": 1,
        "msg": "succ",
        "trade_no": trade_no,
        "out_trade_no": "K20261125001",
        "api_trade_no": None,
        "type": "alipay",
        "pid": PID,
        "addtime": "2026-11-25 20:00:00",
        "endtime": None,
        "name": "Steam 充值卡 50元",
        "money": "1.00",
        "param": "p1",
        "buyer": None,
        "status": 0,
        "payurl": f"http://epay.test/cashier.php?trade_no={trade_no}",
    }
    env.clock.at = START + timedelta(minutes=5)
    await env.client.post(f"/pay/{trade_no}")
    by_out = await env.client.get(
        "/api.php", params={"act": "order", "pid": PID, "key": KEY, "out_trade_no": "K20261125001"}
    )
    body = by_out.json()
    assert body["trade_no"] == trade_no and body["status"] == 1
    assert body["endtime"] == "2026-11-25 20:05:00" and body["money"] == "1.00"
    assert re.fullmatch(r"\d{28}", body["api_trade_no"])


async def test_api_order_trade_no_wins_over_out_trade_no(env: Env) -> None:
    first = await submit(env, out_trade_no="A1")
    await submit(env, out_trade_no="B2")
    response = await env.client.get(
        "/api.php",
        params={"act": "order", "pid": PID, "key": KEY, "trade_no": first, "out_trade_no": "B2"},
    )
    assert response.json()["trade_no"] == first and response.json()["out_trade_no"] == "A1"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"pid": PID, "key": "wrong"}, {"code": -1, "msg": "KEY校验失败"}),
        ({"pid": PID, "key": ""}, {"code": -1, "msg": "KEY校验失败"}),
        ({"pid": "404", "key": KEY}, {"code": -1, "msg": "KEY校验失败"}),
        ({"pid": PID, "key": KEY, "trade_no": "2026"}, {"code": -1, "msg": "订单号不存在"}),
        ({"pid": PID, "key": KEY, "out_trade_no": "nope"}, {"code": -1, "msg": "订单号不存在"}),
        ({"pid": PID, "key": KEY}, {"code": -4, "msg": "订单号不能为空"}),
    ],
    ids=["wrong key", "empty key", "unknown pid", "unknown trade_no", "unknown out", "no number"],
)
async def test_api_order_failures(
    env: Env, query: dict[str, str], expected: dict[str, Any]
) -> None:
    await submit(env)
    response = await env.client.get("/api.php", params={"act": "order", **query})
    assert response.status_code == 200 and response.json() == expected


async def test_api_order_never_shows_another_merchants_trade(env: Env) -> None:
    trade_no = await submit(env)
    response = await env.client.get(
        "/api.php",
        params={"act": "order", "pid": OTHER_PID, "key": OTHER_KEY, "trade_no": trade_no},
    )
    assert response.json() == {"code": -1, "msg": "订单号不存在"}


async def test_api_orders_lists_filters_and_pages(env: Env) -> None:
    numbers = [await submit(env, out_trade_no=f"L{i}") for i in range(3)]
    await env.client.post(f"/pay/{numbers[1]}")
    base = {"act": "orders", "pid": PID, "key": KEY}
    listed = (await env.client.get("/api.php", params=base)).json()
    assert listed["code"] == 1 and listed["count"] == 3
    assert [o["trade_no"] for o in listed["data"]] == numbers[::-1]
    paid = (await env.client.get("/api.php", params={**base, "status": "1"})).json()
    assert [o["trade_no"] for o in paid["data"]] == [numbers[1]]
    page2 = (await env.client.get("/api.php", params={**base, "limit": "2", "page": "2"})).json()
    assert [o["trade_no"] for o in page2["data"]] == [numbers[0]]
    huge = (await env.client.get("/api.php", params={**base, "limit": "9" * 5000})).json()
    assert huge["count"] == 3
    wrong = (await env.client.get("/api.php", params={**base, "key": "x"})).json()
    assert wrong == {"code": -1, "msg": "KEY校验失败"}
    no_act = (await env.client.get("/api.php", params={"pid": PID, "key": KEY})).json()
    assert no_act == {"code": -5, "msg": "No Act!"}


# -- sandbox helpers, robustness, lifecycle -------------------------------------------


async def test_index_lists_trades(env: Env) -> None:
    empty = await env.client.get("/")
    assert empty.status_code == 200 and "暂无订单" in empty.text
    trade_no = await submit(env, name="<b>x</b>")
    page = (await env.client.get("/")).text
    assert trade_no in page and "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        (
            "POST",
            "/submit.php",
            {
                "content": b"\xff\xfe--",
                "headers": {"content-type": "multipart/form-data; boundary=x"},
            },
        ),
        ("POST", "/submit.php", {"content": b"pid=%FF%00&sign=%ZZ"}),
        ("GET", "/submit.php", {"params": {"pid": "\u0000", "sign": "x" * 10000}}),
        (
            "POST",
            "/mapi.php",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
        ),
        ("GET", "/cashier.php", {}),
        ("POST", "/pay/unknown", {}),
        (
            "GET",
            "/api.php",
            {
                "params": {
                    "act": "orders",
                    "pid": PID,
                    "key": KEY,
                    "page": "-9",
                    "offset": "x",
                    "status": "abc",
                }
            },
        ),
        ("GET", "/sandbox/trades/..%2F..", {}),
        ("POST", "/sandbox/trades/1/pay", {"data": {"type": "alipay"}}),
    ],
)
async def test_garbage_never_causes_a_server_error(
    env: Env, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    response = await env.client.request(method, url, **kwargs)
    assert response.status_code < 500, response.text


async def test_shutdown_cancels_pending_notifies() -> None:
    receiver = Receiver(default="fail")
    app = create_app(
        merchants={PID: KEY}, time_scale=1.0, http_transport=httpx.ASGITransport(app=receiver)
    )
    sandbox: EpaySandbox = app.state.epay
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://epay.test"
        ) as client,
    ):
        trade_no = pay_action(await client.get("/submit.php", params=signed()))
        await client.post(f"/pay/{trade_no}")
        for _ in range(200):
            if receiver.calls:
                break
            await asyncio.sleep(0.005)
        assert len(receiver.calls) == 1
        [task] = sandbox.notifier.tasks
    assert task.cancelled()
    assert sandbox.notifier.tasks == set()
    trade = sandbox.store.get(trade_no)
    assert trade is not None and trade.notify == 0 and trade.delivering is False


async def test_a_restarted_sandbox_keeps_its_trades_and_resumes_notifying(
    tmp_path: Path,
) -> None:
    """Trades live in a file: a restart forgets nothing, and a paid trade whose
    notify was never acknowledged is notified again on the remaining schedule."""
    from kameng.sandbox.persist import JsonFile

    state = JsonFile(tmp_path / "trades.json")
    answers = iter(["fail"])
    seen: list[str] = []

    def merchant(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, text=next(answers, "success"))

    first = create_app(
        merchants={PID: KEY},
        time_scale=1000.0,  # the second attempt would be in 1000 minutes: never, here
        http_transport=httpx.MockTransport(merchant),
        state_file=state,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=first), base_url="http://epay.test"
    ) as client:
        created = (await client.post("/mapi.php", data=signed(clientip="1.2.3.4"))).json()
        await client.post(f"/sandbox/trades/{created['trade_no']}/pay")
        async with asyncio.timeout(5):
            while not seen:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    await first.state.epay.aclose()  # the process stops with the notify unacknowledged

    second = create_app(
        merchants={PID: KEY},
        time_scale=0.00001,
        http_transport=httpx.MockTransport(merchant),
        state_file=state,
    )
    second.state.epay.notifier.resume()  # what the lifespan does at start-up
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=second), base_url="http://epay.test"
    ) as client:
        async with asyncio.timeout(5):
            url = f"/sandbox/trades/{created['trade_no']}"
            while (await client.get(url)).json()["notify"] != 1:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        trade = (await client.get(f"/sandbox/trades/{created['trade_no']}")).json()
    await second.state.epay.aclose()
    assert (trade["status"], trade["out_trade_no"], trade["money"]) == (1, "K20261125001", "1.00")
    assert [a["acked"] for a in trade["notify_attempts"]] == [False, True]
    assert len(seen) == 2
