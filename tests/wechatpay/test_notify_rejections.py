"""Every way a WeChat Pay notify can be wrong: rejected with a 4xx (never 5xx),
recorded in payment_notifies with its verdict, and nothing else changes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import text

from kameng.config import Settings
from kameng.payments.gateways.base import InboundNotify
from tests.factories import Sessions, add_keys, count, create_product, notify_verdicts
from tests.wechatpay.conftest import Wired


async def unpaid_order(wired: Wired, db: Sessions, settings: Settings) -> dict[str, Any]:
    product_id = await create_product(db)
    await add_keys(db, settings, product_id, 1)
    return await wired.order()


async def assert_nothing_changed(wired: Wired, db: Sessions, order: dict[str, Any]) -> None:
    assert (await wired.status(order["order_no"]))["status"] == "unpaid"
    assert await count(db, "SELECT count(*) FROM payments") == 0
    assert await count(db, "SELECT count(*) FROM card_keys WHERE order_id IS NOT NULL") == 0


async def test_a_good_notify_is_accepted_and_its_replay_refused(
    wired: Wired, db: Sessions, settings: Settings
) -> None:
    order = await unpaid_order(wired, db, settings)
    body, headers = wired.signed_notify(wired.paid_resource(order))
    first = await wired.post_notify(body, headers)
    assert first.status_code == 204 and first.content == b""
    replay = await wired.post_notify(body, headers)
    assert replay.status_code == 400
    assert replay.json() == {"code": "FAIL", "message": "replayed_nonce"}
    assert await notify_verdicts(db) == ["accepted", "replayed_nonce"]
    assert await count(db, "SELECT count(*) FROM payments") == 1
    assert await count(db, "SELECT count(*) FROM notify_nonces") == 1
    # Stored raw with its signed headers: the log can be re-verified later.
    async with db() as s:
        stored = (await s.execute(text("SELECT raw_headers, raw_body FROM payment_notifies"))).all()
    for raw_headers, raw_body in stored:
        kept = json.loads(raw_headers)
        assert raw_body == body
        for name in ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce"):
            assert kept[name.lower()] == headers[name]
        again = InboundNotify.from_request(
            method="POST", headers=kept, raw_query="", body=raw_body.encode(), remote_addr=None
        )
        assert wired.gateway.parse_notify(again).replay_nonce == headers["Wechatpay-Nonce"]


async def test_a_replayed_nonce_is_refused_even_before_any_payment(
    wired: Wired, db: Sessions, settings: Settings
) -> None:
    """The nonce is claimed whatever the verdict: a captured notify for an
    unknown order cannot be replayed later either."""
    order = await unpaid_order(wired, db, settings)
    body, headers = wired.signed_notify(wired.paid_resource(order, out_trade_no="1234567890123456"))
    assert (await wired.post_notify(body, headers)).status_code == 400
    assert (await wired.post_notify(body, headers)).status_code == 400
    assert await notify_verdicts(db) == ["unknown_order", "replayed_nonce"]
    await assert_nothing_changed(wired, db, order)


def _stale(headers: dict[str, str], seconds: int) -> dict[str, str]:
    return {**headers, "Wechatpay-Timestamp": str(int(headers["Wechatpay-Timestamp"]) + seconds)}


# 330, not 301: the header carries whole seconds, and the moment between signing
# and checking (slow under load) can bring 301 s ahead within the 300 s window.
@pytest.mark.parametrize("skew", [-330, 330, -86400])
async def test_timestamp_more_than_5_minutes_off(
    wired: Wired, db: Sessions, settings: Settings, skew: int
) -> None:
    order = await unpaid_order(wired, db, settings)
    body = wired.notifier.envelope(
        "TRANSACTION.SUCCESS", "支付成功", "transaction", wired.paid_resource(order)
    )
    real_time = wired.notifier.unix_time
    wired.notifier.unix_time = lambda: real_time() + skew  # the platform signs at that time
    headers = wired.notifier.signed_headers(body)
    wired.notifier.unix_time = real_time
    response = await wired.post_notify(body, headers)
    assert response.status_code == 400
    assert await notify_verdicts(db) == ["stale_timestamp"]
    await assert_nothing_changed(wired, db, order)


async def test_timestamp_within_5_minutes_is_fine(
    wired: Wired, db: Sessions, settings: Settings
) -> None:
    order = await unpaid_order(wired, db, settings)
    body = wired.notifier.envelope(
        "TRANSACTION.SUCCESS", "支付成功", "transaction", wired.paid_resource(order)
    )
    real_time = wired.notifier.unix_time
    # 20 s short of the limit: the notify may be checked a few seconds later on a loaded machine.
    wired.notifier.unix_time = lambda: real_time() - 280
    headers = wired.notifier.signed_headers(body)
    wired.notifier.unix_time = real_time
    assert (await wired.post_notify(body, headers)).status_code == 204
    assert await notify_verdicts(db) == ["accepted"]


def _flip_ciphertext(body: str) -> str:
    envelope = json.loads(body)
    sealed = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    sealed[0] ^= 1
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    return json.dumps(envelope, ensure_ascii=False)


async def test_tampered_and_unsigned(wired: Wired, db: Sessions, settings: Settings) -> None:
    order = await unpaid_order(wired, db, settings)
    body, headers = wired.signed_notify(wired.paid_resource(order))
    cases: list[tuple[str | bytes, dict[str, str], str]] = [
        # serial of another key (also stops wechatpayv3 fetching certificates)
        (
            body,
            {**headers, "Wechatpay-Serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"},
            "bad_signature",
        ),
        (body.replace('"支付成功"', '"支付成功 "'), headers, "bad_signature"),
        (_flip_ciphertext(body), headers, "bad_signature"),
        (body, {"Content-Type": "application/json"}, "bad_signature"),
        (body, {k: v for k, v in headers.items() if k != "Wechatpay-Signature"}, "bad_signature"),
        (body, {**headers, "Wechatpay-Signature": "bm90IGEgc2lnbmF0dXJl"}, "bad_signature"),
        (body, {**headers, "Wechatpay-Signature": "非base64".encode()}, "bad_signature"),
        (body, {**headers, "Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}, "bad_signature"),
        (
            body,
            {k: v for k, v in headers.items() if k != "Wechatpay-Signature-Type"},
            "bad_signature",
        ),
        (body.encode() + b"\xff", headers, "bad_signature"),
        (b"", headers, "bad_signature"),
    ]
    for sent_body, sent_headers, _ in cases:
        response = await wired.post_notify(sent_body, sent_headers)
        assert response.status_code == 400, (response.status_code, sent_headers)
        assert response.json()["code"] == "FAIL"
    assert await notify_verdicts(db) == [verdict for *_, verdict in cases]
    await assert_nothing_changed(wired, db, order)
    assert await count(db, "SELECT count(*) FROM notify_nonces") == 0


async def test_ciphertext_signed_by_the_platform_but_not_decryptable(
    wired: Wired, db: Sessions, settings: Settings
) -> None:
    order = await unpaid_order(wired, db, settings)
    body, _ = wired.signed_notify(wired.paid_resource(order))
    tampered = _flip_ciphertext(body)
    response = await wired.post_notify(tampered, wired.notifier.signed_headers(tampered))
    assert response.status_code == 400
    assert await notify_verdicts(db) == ["malformed"]
    await assert_nothing_changed(wired, db, order)


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({"mchid": "1900000109"}, "wrong_merchant"),
        ({"appid": "wxd678efh567hg6787"}, "wrong_merchant"),
        ({"trade_state": "NOTPAY"}, "not_paid"),
        ({"amount": {"total": 999, "currency": "CNY"}}, "amount_mismatch"),
        ({"amount": {"total": 1001, "currency": "CNY"}}, "amount_mismatch"),
        ({"amount": {"total": "1000", "currency": "CNY"}}, "malformed"),
        ({"amount": {"total": 10.0, "currency": "CNY"}}, "malformed"),
        ({"amount": {"total": 1000, "currency": "USD"}}, "malformed"),
        ({"out_trade_no": "../../etc"}, "malformed"),
        ({"transaction_id": ""}, "malformed"),
        ({"out_trade_no": "1234567890123456"}, "unknown_order"),
    ],
)
async def test_signed_by_the_platform_but_wrong(
    wired: Wired, db: Sessions, settings: Settings, changes: dict[str, Any], verdict: str
) -> None:
    order = await unpaid_order(wired, db, settings)
    body, headers = wired.signed_notify(wired.paid_resource(order, **changes))
    response = await wired.post_notify(body, headers)
    assert response.status_code == 400
    assert await notify_verdicts(db) == [verdict]
    await assert_nothing_changed(wired, db, order)


async def test_other_events_and_garbage_are_not_payments(
    wired: Wired, db: Sessions, settings: Settings
) -> None:
    order = await unpaid_order(wired, db, settings)
    refund = wired.notifier.envelope("REFUND.SUCCESS", "退款成功", "refund", {"mchid": "x"})
    not_json = "not json at all"
    no_resource = json.dumps({"event_type": "TRANSACTION.SUCCESS"})
    for body in (refund, not_json, no_resource):
        response = await wired.post_notify(body, wired.notifier.signed_headers(body))
        assert response.status_code == 400
    assert await notify_verdicts(db) == ["not_paid", "malformed", "malformed"]
    await assert_nothing_changed(wired, db, order)
    get = await wired.shop.get("/notify/wechatpay", headers=wired.notifier.signed_headers(""))
    assert get.status_code == 400


async def test_a_replay_to_another_web_process_is_refused_too(
    wired: Wired, db: Sessions, settings: Settings, database_url: str
) -> None:
    """The nonce store is PostgreSQL, not process memory: a second shop with its
    own connection pool (another worker process) refuses the replay as well,
    also when both receive the same notify at the same moment."""
    import asyncio

    import httpx

    from kameng.db.connection import make_pool
    from kameng.web.app import create_app

    other_pool = make_pool(database_url, size=2)
    await other_pool.open()
    try:
        other = create_app(wired.settings, pool=other_pool)
        other.state.runtime.gateways = wired.shop_app.state.runtime.gateways
        transport = httpx.ASGITransport(app=other, client=("127.0.0.1", 40003))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop2.test") as shop2:
            order = await unpaid_order(wired, db, settings)
            body, headers = wired.signed_notify(wired.paid_resource(order))
            first = await wired.post_notify(body, headers)
            replay = await shop2.post("/notify/wechatpay", content=body.encode(), headers=headers)
            assert (first.status_code, replay.status_code) == (204, 400)

            second = await wired.order()
            body, headers = wired.signed_notify(
                wired.paid_resource(second, transaction_id="4200000001202611259999999999")
            )
            both = await asyncio.gather(
                wired.post_notify(body, headers),
                shop2.post("/notify/wechatpay", content=body.encode(), headers=headers),
            )
            assert sorted(r.status_code for r in both) == [204, 400]
    finally:
        await other_pool.close()
    assert await notify_verdicts(db) in (
        ["accepted", "replayed_nonce", "accepted", "replayed_nonce"],
        ["accepted", "replayed_nonce", "replayed_nonce", "accepted"],
    )
    assert await count(db, "SELECT count(*) FROM payments") == 2
