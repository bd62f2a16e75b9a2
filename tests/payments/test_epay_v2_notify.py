"""易支付 V2 notifies: SHA256withRSA by the platform over whatever fields arrive,
timestamp within ±300 s, our pid, exact amount; anything else rejected, recorded,
nothing changed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kameng.config import Settings
from kameng.payments.gateways.base import InboundNotify, NotifyRejected
from kameng.payments.gateways.epay_v2 import EpayV2Gateway
from kameng.sandbox import rsa_sign
from kameng.web.app import create_app
from tests.e2e.test_epay_v2_roundtrip import PID, epay_v2_settings
from tests.factories import Sessions, add_keys, count, create_product, notify_verdicts, place_order
from tests.rsa_keys import keypair

gateway = EpayV2Gateway(
    name="epay_v2",
    base_url="http://epay-v2.test/",
    pid=PID,
    merchant_private_key=keypair("epay_v2_merchant").private_pem(),
    platform_public_key=keypair("epay_v2_platform").public_pem(),
)
_platform = rsa_sign.load_private(keypair("epay_v2_platform").private_pem())
_stranger = rsa_sign.load_private(keypair("stranger").private_pem())


def base() -> dict[str, str]:
    return {
        "pid": PID,
        "trade_no": "20261130200000123456",
        "out_trade_no": "1234567890123452",
        "api_trade_no": "4200000000000000000000000001",
        "type": "alipay",
        "name": "游戏点卡 10 元",
        "money": "10.00",
        "trade_status": "TRADE_SUCCESS",
        "addtime": "2026-11-30 20:00:00",
        "endtime": "2026-11-30 20:00:04",
        "buyer": "sandbox-buyer",
        "timestamp": str(int(time.time())),
    }


def signed(fields: dict[str, str], key: Any = _platform) -> dict[str, str]:
    text_ = rsa_sign.sorted_pairs(fields, exclude=("sign", "sign_type"))
    return fields | {"sign": rsa_sign.sign(key, text_), "sign_type": "RSA"}


def verdict_of(fields: dict[str, str]) -> str:
    try:
        gateway.parse_notify(InboundNotify(method="GET", query=tuple(fields.items())))
    except NotifyRejected as rejected:
        return str(rejected.verdict)
    return "ok"


def test_a_signed_notify_verifies_even_with_fields_added_by_the_platform() -> None:
    assert verdict_of(signed(base())) == "ok"
    assert verdict_of(signed(base() | {"new_field": "平台新增"})) == "ok"


@pytest.mark.parametrize(
    ("change", "verdict"),
    [
        (lambda f: signed(f, _stranger), "bad_signature"),
        (lambda f: f | {"sign": "", "sign_type": "RSA"}, "malformed"),
        (lambda f: signed(f) | {"sign": "签名"}, "bad_signature"),
        (lambda f: signed(f) | {"sign_type": "MD5"}, "bad_signature"),
        (lambda f: signed(f | {"timestamp": str(int(time.time()) - 301)}), "stale_timestamp"),
        (lambda f: signed(f | {"timestamp": str(int(time.time()) + 301)}), "stale_timestamp"),
        (lambda f: signed(f | {"timestamp": "soon"}), "stale_timestamp"),
        (lambda f: signed(f | {"pid": "9999"}), "wrong_merchant"),
        (lambda f: signed(f | {"trade_status": "WAIT"}), "not_paid"),
        (lambda f: signed(f | {"money": "ten"}), "malformed"),
    ],
)
def test_rejections(change: Any, verdict: str) -> None:
    assert verdict_of(change(base())) == verdict


@given(field=st.sampled_from(sorted(base())), value=st.text(min_size=1, max_size=20))
def test_any_changed_field_is_rejected(field: str, value: str) -> None:
    fields = signed(base())
    if fields[field] == value:
        return
    fields[field] = value
    assert verdict_of(fields) != "ok"


@given(field=st.sampled_from(sorted(base())))
def test_a_removed_field_is_rejected(field: str) -> None:
    fields = signed(base())
    del fields[field]
    assert verdict_of(fields) != "ok"


@pytest.fixture
async def shop(db: Sessions, settings: Settings, pool: Any) -> Any:
    app = create_app(epay_v2_settings(settings), pool=pool)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40005))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        yield client


async def test_rejected_over_http_recorded_and_nothing_changed(
    shop: httpx.AsyncClient, db: Sessions, settings: Settings
) -> None:
    await add_keys(db, settings, await create_product(db, price_cents=1000), 1)
    order = await place_order(shop, gateway="epay_v2")
    mine = base() | {"out_trade_no": order["order_no"]}
    attempts = [
        signed(mine) | {"money": "0.01"},
        signed(mine | {"money": "9.99"}),
        signed(mine | {"timestamp": str(int(time.time()) - 600)}),
        signed(mine, _stranger),
        mine,
    ]
    for fields in attempts:
        response = await shop.get("/notify/epay_v2", params=fields)
        assert (response.status_code, response.text) == (200, "fail")
    assert await count(db, "SELECT count(*) FROM payments") == 0
    assert await notify_verdicts(db) == [
        "bad_signature",
        "amount_mismatch",
        "stale_timestamp",
        "bad_signature",
        "malformed",
    ]
    assert (await shop.get("/notify/epay_v2", params=signed(mine))).text == "success"
    assert await count(db, "SELECT count(*) FROM payments") == 1
