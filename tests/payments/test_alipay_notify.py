"""Alipay notifies: only one signed with Alipay's key, for our app, seller, order
and exact amount, pays; anything else is rejected, recorded, changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from kameng.config import Settings
from kameng.payments.gateways.alipay import AlipayGateway
from kameng.payments.gateways.base import InboundNotify, NotifyRejected
from kameng.sandbox import rsa_sign
from kameng.web.app import create_app
from tests.e2e.test_alipay_roundtrip import APP_ID, SELLER_ID, alipay_settings
from tests.factories import Sessions, add_keys, count, create_product, notify_verdicts, place_order
from tests.rsa_keys import keypair

gateway = AlipayGateway(
    name="alipay",
    gateway_url="http://alipay.test/gateway.do",
    app_id=APP_ID,
    app_private_key=keypair("alipay_app").private_pem(),
    alipay_public_key=keypair("alipay_platform").public_pem(),
    seller_id=SELLER_ID,
)
_platform = rsa_sign.load_private(keypair("alipay_platform").private_pem())
_stranger = rsa_sign.load_private(keypair("stranger").private_pem())

BASE = {
    "notify_time": "2026-11-30 20:00:05",
    "notify_type": "trade_status_sync",
    "notify_id": "ac05099524730693a8b330c5ecf72da9786",
    "app_id": APP_ID,
    "charset": "utf-8",
    "version": "1.0",
    "trade_no": "2026113022001400001234567890",
    "out_trade_no": "1234567890123452",
    "trade_status": "TRADE_SUCCESS",
    "seller_id": SELLER_ID,
    "buyer_id": "2088102169481075",
    "subject": "游戏点卡 10 元",
    "total_amount": "10.00",
    "gmt_payment": "2026-11-30 20:00:04",
}


def signed(fields: dict[str, str], key: Any = _platform) -> dict[str, str]:
    text_ = rsa_sign.sorted_pairs(fields, exclude=("sign", "sign_type"))
    return fields | {"sign": rsa_sign.sign(key, text_), "sign_type": "RSA2"}


def as_post(fields: dict[str, str]) -> InboundNotify:
    return InboundNotify(method="POST", form=tuple(fields.items()))


def verdict_of(fields: dict[str, str]) -> str:
    try:
        gateway.parse_notify(as_post(fields))
    except NotifyRejected as rejected:
        return rejected.verdict
    return "ok"


def test_a_signed_notify_verifies() -> None:
    verified = gateway.parse_notify(as_post(signed(BASE)))
    assert (verified.out_trade_no, verified.trade_no, verified.amount_cents) == (
        "1234567890123452",
        "2026113022001400001234567890",
        1000,
    )
    finished = gateway.parse_notify(as_post(signed(BASE | {"trade_status": "TRADE_FINISHED"})))
    assert finished.amount_cents == 1000


@pytest.mark.parametrize(
    ("fields", "verdict"),
    [
        (signed(BASE, _stranger), "bad_signature"),  # signed with another key
        (BASE | {"sign": "", "sign_type": "RSA2"}, "malformed"),  # unsigned
        (signed(BASE) | {"sign": "签名"}, "bad_signature"),
        (signed(BASE) | {"sign": "!!not base64!!"}, "bad_signature"),
        (signed(BASE) | {"sign_type": "RSA"}, "bad_signature"),
        (signed(BASE | {"app_id": "2021000000009999"}), "wrong_merchant"),
        (signed(BASE | {"seller_id": "2088999999999999"}), "wrong_merchant"),
        (signed(BASE | {"trade_status": "WAIT_BUYER_PAY"}), "not_paid"),
        (signed(BASE | {"trade_status": "TRADE_CLOSED"}), "not_paid"),
        (signed(BASE | {"total_amount": "10"}), "malformed"),
        (signed(BASE | {"total_amount": "1e3"}), "malformed"),
        (signed(BASE | {"out_trade_no": "../1"}), "malformed"),
    ],
)
def test_rejections(fields: dict[str, str], verdict: str) -> None:
    assert verdict_of(fields) == verdict


def test_a_missing_seller_id_is_rejected_when_one_is_configured() -> None:
    fields = {k: v for k, v in BASE.items() if k != "seller_id"}
    assert verdict_of(signed(fields)) == "wrong_merchant"


@given(field=st.sampled_from(sorted(BASE)), value=st.text(min_size=1, max_size=20))
def test_any_changed_field_is_rejected(field: str, value: str) -> None:
    fields = signed(BASE)
    if fields[field] == value:
        return
    fields[field] = value
    assert verdict_of(fields) != "ok"


@given(extra=st.text(st.characters(categories=["Ll"]), min_size=1, max_size=8))
def test_an_added_field_is_rejected(extra: str) -> None:
    fields = signed(BASE)
    if extra in fields:
        return
    fields[extra] = "x"
    assert verdict_of(fields) == "bad_signature"


@given(field=st.sampled_from(sorted(BASE)))
def test_a_removed_field_is_rejected(field: str) -> None:
    fields = signed(BASE)
    del fields[field]
    assert verdict_of(fields) != "ok"


@pytest.fixture
async def shop(db: Sessions, settings: Settings, pool: Any) -> Any:
    app = create_app(alipay_settings(settings), pool=pool)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40003))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        yield client


class TestOverHttp:
    async def test_tampered_notifies_are_recorded_and_change_nothing(
        self, shop: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        await add_keys(db, settings, await create_product(db, price_cents=1000), 1)
        order = await place_order(shop, gateway="alipay")
        good = signed(BASE | {"out_trade_no": order["order_no"]})
        attempts = [
            good | {"total_amount": "0.01"},
            signed(BASE | {"out_trade_no": order["order_no"], "total_amount": "9.99"}),
            signed(BASE | {"out_trade_no": order["order_no"], "app_id": "1"}),
            signed(BASE | {"out_trade_no": order["order_no"]}, _stranger),
            good | {"sign": "签名" * 40},
        ]
        for fields in attempts:
            response = await shop.post("/notify/alipay", data=fields)
            assert (response.status_code, response.text) == (200, "fail")
        assert await count(db, "SELECT count(*) FROM payments") == 0
        assert await notify_verdicts(db) == [
            "bad_signature",
            "amount_mismatch",
            "wrong_merchant",
            "bad_signature",
            "bad_signature",
        ]
        status = (await shop.get(f"/api/shop/orders/{order['order_no']}")).json()["status"]
        assert status == "unpaid"

        response = await shop.post("/notify/alipay", data=good)
        assert (response.status_code, response.text) == (200, "success")
        assert await count(db, "SELECT count(*) FROM payments") == 1

    async def test_an_epay_notify_cannot_pay_an_alipay_order(
        self, shop: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        from tests.factories import signed_notify

        await create_product(db, price_cents=1000)
        order = await place_order(shop, gateway="alipay")
        response = await shop.get(
            "/notify/epay", params=signed_notify(settings, order["order_no"], 1000)
        )
        assert response.text == "fail"
        assert await count(db, "SELECT count(*) FROM payments") == 0
        async with db() as s:
            verdict = (await s.execute(text("SELECT verdict FROM payment_notifies"))).scalar_one()
        assert verdict == "gateway_mismatch"
