"""The epay notify endpoint: only a correct, signed notify for the right order and
amount ever marks an order paid; everything is recorded with its verdict."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kameng.config import Settings
from tests.factories import (
    Sessions,
    count,
    make_stocked_product,
    notify_verdicts,
    place_order,
    signed_notify,
)


async def send(client: httpx.AsyncClient, params: dict[str, str]) -> httpx.Response:
    return await client.get("/notify/epay", params=params)


async def state(db: Sessions, order_no: str) -> tuple[str, int, int, int]:
    """status, payments, sold keys, events of one order."""
    async with db() as s:
        row = (
            await s.execute(
                text(
                    "SELECT o.status, (SELECT count(*) FROM payments p WHERE p.order_id = o.id), "
                    "(SELECT count(*) FROM card_keys k WHERE k.order_id = o.id), "
                    "(SELECT count(*) FROM order_events e WHERE e.order_id = o.id) "
                    "FROM orders o WHERE o.order_no = :n"
                ),
                {"n": order_no},
            )
        ).one()
    return row[0], row[1], row[2], row[3]


@pytest.fixture
async def order(client: httpx.AsyncClient, db: Sessions, settings: Settings) -> dict[str, Any]:
    await make_stocked_product(db, settings, 5, price_cents=1000)
    return await place_order(client)


class TestRejected:
    @pytest.mark.parametrize(
        ("change", "verdict"),
        [
            ({"sign": "0" * 32}, "bad_signature"),
            ({"money": "0.01"}, "bad_signature"),  # changed after signing
            ({"out_trade_no": "1234567890123452"}, "bad_signature"),
            ({"sign_type": "RSA"}, "bad_signature"),
        ],
    )
    async def test_tampered_notify_fails_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        db: Sessions,
        settings: Settings,
        order: dict[str, Any],
        change: dict[str, str],
        verdict: str,
    ) -> None:
        params = signed_notify(settings, order["order_no"], 1000) | change
        response = await send(client, params)
        assert response.text == "fail"
        assert await state(db, order["order_no"]) == ("unpaid", 0, 0, 1)
        assert await notify_verdicts(db) == [verdict]

    async def test_wrong_amount_signed_correctly_still_fails(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        response = await send(client, signed_notify(settings, order["order_no"], 999))
        assert response.text == "fail"
        assert await state(db, order["order_no"]) == ("unpaid", 0, 0, 1)
        assert await notify_verdicts(db) == ["amount_mismatch"]

    async def test_other_merchant_fails(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        response = await send(client, signed_notify(settings, order["order_no"], 1000, pid="9999"))
        assert response.text == "fail"
        assert await notify_verdicts(db) == ["wrong_merchant"]

    async def test_unknown_order_and_unknown_gateway_fail(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        assert (
            await send(client, signed_notify(settings, "1234567890123452", 1000))
        ).text == "fail"
        other = await client.get(
            "/notify/alipay", params=signed_notify(settings, order["order_no"], 1000)
        )
        assert other.text == "fail"
        assert await notify_verdicts(db) == ["unknown_order", "unknown_gateway"]
        assert await state(db, order["order_no"]) == ("unpaid", 0, 0, 1)

    async def test_trade_number_replayed_for_another_order_fails(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        second = await place_order(client)
        ok = await send(client, signed_notify(settings, order["order_no"], 1000, trade_no="T1"))
        assert ok.text == "success"
        replay = await send(
            client, signed_notify(settings, second["order_no"], 1000, trade_no="T1")
        )
        assert replay.text == "fail"
        assert await state(db, second["order_no"]) == ("unpaid", 0, 0, 1)
        assert await notify_verdicts(db) == ["accepted", "trade_no_reused"]

    @pytest.mark.parametrize(
        "query", ["", "pid=1001", "a=1&a=2", "money=abc&sign=x", "out_trade_no=%05A%00"]
    )
    async def test_garbage_fails_cleanly(
        self, client: httpx.AsyncClient, db: Sessions, query: str
    ) -> None:
        response = await client.get(f"/notify/epay?{query}")
        assert response.status_code == 200
        assert response.text == "fail"
        assert await notify_verdicts(db) == ["malformed"]
        assert await count(db, "SELECT count(*) FROM payments") == 0

    async def test_non_ascii_sign_is_a_bad_signature_not_a_crash(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        params = signed_notify(settings, order["order_no"], 1000) | {"sign": "签名" * 16}
        response = await send(client, params)
        assert (response.status_code, response.text) == (200, "fail")
        assert await notify_verdicts(db) == ["bad_signature"]
        assert await state(db, order["order_no"]) == ("unpaid", 0, 0, 1)

    async def test_a_body_over_the_limit_is_refused_unread_and_unrecorded(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        from kameng.web.notify.gateways import MAX_BODY

        signed = signed_notify(settings, order["order_no"], 1000)
        padded = signed | {"pad": "x" * MAX_BODY}
        declared = await client.post("/notify/epay", data=padded)
        assert declared.status_code == 413

        async def chunks() -> Any:  # no Content-Length: the limit still holds
            for _ in range(MAX_BODY // 1024 + 1):
                yield b"x" * 1024

        chunked = await client.post(
            "/notify/epay",
            content=chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert chunked.status_code == 413
        assert await notify_verdicts(db) == []
        assert await state(db, order["order_no"]) == ("unpaid", 0, 0, 1)

    async def test_form_field_also_in_the_query_is_ambiguous(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        params = signed_notify(settings, order["order_no"], 1000)
        response = await client.post("/notify/epay", params={"money": params["money"]}, data=params)
        assert (response.status_code, response.text) == (200, "fail")
        assert await notify_verdicts(db) == ["malformed"]
        assert await state(db, order["order_no"]) == ("unpaid", 0, 0, 1)

    async def test_every_notify_is_stored_raw(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        params = signed_notify(settings, order["order_no"], 1000) | {"sign": "f" * 32}
        await send(client, params)
        async with db() as s:
            row = (
                await s.execute(
                    text(
                        "SELECT http_method, raw_query, out_trade_no, verdict FROM payment_notifies"
                    )
                )
            ).one()
        assert row[0] == "GET"
        assert f"out_trade_no={order['order_no']}" in row[1] and "sign=" + "f" * 32 in row[1]
        assert row[2] == order["order_no"]
        assert row[3] == "bad_signature"


class TestAccepted:
    async def test_post_form_notify_is_accepted_too(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        response = await client.post(
            "/notify/epay", data=signed_notify(settings, order["order_no"], 1000)
        )
        assert response.text == "success"
        assert await state(db, order["order_no"]) == ("delivered", 1, 1, 3)

    async def test_duplicate_answers_success_and_changes_nothing(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        params = signed_notify(settings, order["order_no"], 1000)
        assert (await send(client, params)).text == "success"
        before = await state(db, order["order_no"])
        assert (await send(client, params)).text == "success"
        assert await state(db, order["order_no"]) == before == ("delivered", 1, 1, 3)
        assert await notify_verdicts(db) == ["accepted", "duplicate"]

    async def test_second_distinct_payment_is_kept_on_record(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        await send(client, signed_notify(settings, order["order_no"], 1000, trade_no="A"))
        response = await send(
            client, signed_notify(settings, order["order_no"], 1000, trade_no="B")
        )
        assert response.text == "success"  # stop the gateway re-sending; the money is on record
        # Two payments (the second one surplus); events: created, paid, delivered,
        # second_payment, refund_requested.
        assert await state(db, order["order_no"]) == ("delivered", 2, 1, 5)
        assert await notify_verdicts(db) == ["accepted", "second_payment"]
        refunds = "SELECT count(*) FROM refunds r JOIN payments p ON p.id = r.payment_id"
        assert await count(db, f"{refunds} WHERE p.trade_no = 'B' AND p.surplus") == 1
        assert await count(db, f"{refunds} WHERE r.amount_cents = 1000") == 1
        # The gateway re-sends the second payment: recorded once, refunded once.
        await send(client, signed_notify(settings, order["order_no"], 1000, trade_no="B"))
        assert await notify_verdicts(db) == ["accepted", "second_payment", "duplicate"]
        assert await count(db, "SELECT count(*) FROM refunds") == 1

    async def test_50_concurrent_duplicates_pay_once_and_allocate_once(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        params = signed_notify(settings, order["order_no"], 1000)
        responses = await asyncio.gather(*(send(client, params) for _ in range(50)))
        assert [r.text for r in responses] == ["success"] * 50
        assert await state(db, order["order_no"]) == ("delivered", 1, 1, 3)
        assert sorted(await notify_verdicts(db)) == ["accepted"] + ["duplicate"] * 49

    async def test_200_buyers_100_keys_none_sold_twice(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        await make_stocked_product(db, settings, 100, sku="FLASH", price_cents=500)
        orders = [await place_order(client, "FLASH") for _ in range(200)]
        responses = await asyncio.gather(
            *(send(client, signed_notify(settings, o["order_no"], 500)) for o in orders)
        )
        assert [r.text for r in responses] == ["success"] * 200
        assert await count(db, "SELECT count(*) FROM orders WHERE status = 'delivered'") == 100
        assert await count(db, "SELECT count(*) FROM orders WHERE status = 'awaiting_stock'") == 100
        assert await count(db, "SELECT count(*) FROM payments") == 200
        assert await count(db, "SELECT count(*) FROM card_keys WHERE status = 'sold'") == 100
        assert await count(db, "SELECT count(DISTINCT order_id) FROM card_keys") == 100
        assert (
            await count(
                db,
                "SELECT count(*) FROM orders o WHERE status = 'delivered' AND "
                "(SELECT count(*) FROM card_keys k WHERE k.order_id = o.id) <> 1",
            )
            == 0
        )


class TestDatabaseGuards:
    async def test_a_key_cannot_fill_two_slots_of_one_order(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, order: dict[str, Any]
    ) -> None:
        await send(client, signed_notify(settings, order["order_no"], 1000))
        from sqlalchemy.exc import IntegrityError

        with pytest.raises(IntegrityError, match="uq_card_keys_order_id_slot"):
            async with db() as s, s.begin():
                await s.execute(
                    text(
                        "UPDATE card_keys SET status = 'sold', order_id = (SELECT order_id FROM "
                        "card_keys WHERE status = 'sold'), slot = 1 WHERE status = 'available'"
                    )
                )
        assert await count(db, "SELECT count(*) FROM card_keys WHERE status = 'sold'") == 1

    async def test_timeline_is_append_only(self, db: Sessions, order: dict[str, Any]) -> None:
        from sqlalchemy.exc import DBAPIError

        for statement in ("UPDATE order_events SET type = 'paid'", "DELETE FROM order_events"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with db() as s, s.begin():
                    await s.execute(text(statement))
        assert await count(db, "SELECT count(*) FROM order_events WHERE type = 'created'") == 1
