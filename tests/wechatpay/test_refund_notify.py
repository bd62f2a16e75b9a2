"""The WeChat Pay v3 refund notify (REFUND.SUCCESS / REFUND.ABNORMAL): sent by
the sandbox to POST /notify/wechatpay/refund, verified like a payment notify
(headers, signature, freshness, nonce, AES-GCM), and settling the refund it
names once, without the worker having to ask."""

from __future__ import annotations

import json
from typing import Any

from kameng.config import Settings
from kameng.db.connection import fetch_all
from tests.factories import Sessions, ask_refund, count, transaction
from tests.support import wait_for
from tests.wechatpay.conftest import Wired
from tests.wechatpay.test_refunds import paid_order, refund_state, timeline


async def refund_notifies(db: Sessions) -> list[tuple[str, str]]:
    async with transaction(db) as conn:
        rows = await fetch_all(
            conn,
            "SELECT verdict, detail FROM payment_notifies WHERE raw_body LIKE '%%REFUND.%%' "
            "ORDER BY id",
        )
    return [(r[0], r[1]) for r in rows]


async def settled_by_notify(wired: Wired, pool: Any, refund_id: int, state: str) -> None:
    async def there() -> bool:
        return (await refund_state(pool, refund_id))[0] == state

    await wait_for(there)


def sandbox_refund(wired: Wired, out_refund_no: str) -> Any:
    record = wired.notifier.store.refund(wired.identity.mchid, out_refund_no)
    assert record is not None
    return record


async def post_refund_notify(wired: Wired, body: str, headers: dict[str, str]) -> Any:
    return await wired.shop.post("/notify/wechatpay/refund", content=body.encode(), headers=headers)


async def test_the_refund_notify_settles_the_refund(
    wired: Wired, db: Sessions, settings: Settings, pool: Any, run_jobs: Any
) -> None:
    order = await paid_order(wired, db, settings)
    no = order["order_no"]
    refund_id = await ask_refund(pool, order["order_no"], 500, "notify", reason="测试退款")
    await run_jobs()  # submitted with our notify_url; nobody asks the sandbox about it
    await settled_by_notify(wired, pool, refund_id, "succeeded")
    assert await refund_state(pool, refund_id) == ("succeeded", 1)
    assert await refund_notifies(db) == [("accepted", "refund succeeded")]
    record = sandbox_refund(wired, f"{no}R01")
    assert record.notify_url == f"{settings.public_url}/notify/wechatpay/refund"
    assert [a.status for a in record.attempts] == [204]  # acknowledged: no retry
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn, "SELECT gateway_refund_no FROM refunds WHERE id = %(i)s", {"i": refund_id}
        )
    assert rows[0][0] == record.refund_id
    assert await timeline(wired, no) == ["refund_requested", "refund_submitted", "refund_succeeded"]

    # The same notify again (WeChat retries with a fresh nonce): acknowledged, nothing changes.
    body = wired.notifier.refund_body(record)
    again = await post_refund_notify(wired, body, wired.notifier.signed_headers(body))
    assert again.status_code == 204
    # Replayed as captured (same nonce): refused.
    headers = wired.notifier.signed_headers(body)
    assert (await post_refund_notify(wired, body, headers)).status_code == 204
    replay = await post_refund_notify(wired, body, headers)
    assert replay.status_code == 400
    assert [v for v, _ in await refund_notifies(db)] == [
        "accepted",
        "duplicate",
        "duplicate",
        "replayed_nonce",
    ]
    assert await refund_state(pool, refund_id) == ("succeeded", 1)
    assert await count(db, "SELECT refunds_claimed_cents FROM payments") == 500
    assert await timeline(wired, no) == ["refund_requested", "refund_submitted", "refund_succeeded"]


async def test_an_abnormal_refund_notify_fails_the_refund_for_a_retry(
    wired: Wired, db: Sessions, settings: Settings, pool: Any, run_jobs: Any
) -> None:
    order = await paid_order(wired, db, settings)
    no = order["order_no"]
    await wired.phone.post(
        f"/sandbox/trades/{no}/refund-outcome", params={"outcome": "refund_fails"}
    )
    refund_id = await ask_refund(pool, order["order_no"], None, "abnormal", reason="测试退款")
    await run_jobs()
    await settled_by_notify(wired, pool, refund_id, "failed")
    assert await refund_notifies(db) == [("accepted", "refund refused")]
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn,
            "SELECT next_attempt_at IS NOT NULL FROM refunds WHERE id = %(i)s",
            {"i": refund_id},
        )
    assert rows == [(True,)]  # due again after the back-off, under a new number
    assert await timeline(wired, no) == ["refund_requested", "refund_submitted", "refund_failed"]


async def test_forged_or_foreign_refund_notifies_change_nothing(
    wired: Wired, db: Sessions, settings: Settings, pool: Any, run_jobs: Any
) -> None:
    order = await paid_order(wired, db, settings)
    no = order["order_no"]
    refund_id = await ask_refund(pool, order["order_no"], 500, "part", reason="测试退款")
    await run_jobs()
    await settled_by_notify(wired, pool, refund_id, "succeeded")
    record = sandbox_refund(wired, f"{no}R01")
    notifier = wired.notifier

    def refund_body(**changes: Any) -> str:
        resource = {"mchid": wired.identity.mchid, "out_trade_no": no,
                    "transaction_id": record.transaction_id, "out_refund_no": f"{no}R01",
                    "refund_id": record.refund_id, "refund_status": "SUCCESS",
                    "user_received_account": "支付用户零钱",
                    "amount": {"total": 2000, "refund": 500, "payer_total": 2000,
                               "payer_refund": 500}} | changes  # fmt: skip
        return notifier.envelope("REFUND.SUCCESS", "退款成功", "refund", resource)

    cases = {
        "amount_mismatch": refund_body(amount={"total": 2000, "refund": 501}),
        "unknown_order": refund_body(out_refund_no=f"{no}R09"),
        "wrong_merchant": refund_body(mchid="1900000109"),
        "malformed": refund_body(refund_status="PROCESSING"),
    }
    for verdict, body in cases.items():
        answer = await post_refund_notify(wired, body, notifier.signed_headers(body))
        assert answer.status_code == 400, verdict
        assert json.loads(answer.content)["message"] == verdict
    good = refund_body()
    tampered = good.replace('"ciphertext": "', '"ciphertext": "A', 1)
    answer = await post_refund_notify(wired, tampered, notifier.signed_headers(good))
    assert answer.status_code == 400
    stale = notifier.signed_headers(good) | {"Wechatpay-Timestamp": "1000000000"}
    assert (await post_refund_notify(wired, good, stale)).status_code == 400
    unsigned = {"Content-Type": "application/json"}
    assert (await post_refund_notify(wired, good, unsigned)).status_code == 400
    # A refund notify on the pay route, and the pay notify route's kin on another gateway.
    pay_route = await wired.shop.post(
        "/notify/wechatpay", content=good.encode(), headers=notifier.signed_headers(good)
    )
    assert pay_route.status_code == 400
    other = await wired.shop.post("/notify/epay/refund", content=b"{}")
    assert other.status_code == 200 and other.text == "fail"
    assert [v for v, _ in await refund_notifies(db)] == [
        "accepted", "amount_mismatch", "unknown_order", "wrong_merchant", "malformed",
        "bad_signature", "stale_timestamp", "bad_signature", "not_paid",
    ]  # fmt: skip
    assert await refund_state(pool, refund_id) == ("succeeded", 1)
    assert await count(db, "SELECT refunds_claimed_cents FROM payments") == 500
    assert await timeline(wired, no) == ["refund_requested", "refund_submitted", "refund_succeeded"]
    assert await count(db, "SELECT count(*) FROM payment_notifies WHERE gateway = 'epay'") == 1
