"""A card-key order from number to delivery, through the buyer API and a signed notify."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from kameng.config import Settings
from kameng.db.jobs import JobName
from kameng.kit import order_numbers
from tests.factories import (
    Sessions,
    count,
    import_keys,
    key_lines,
    make_product,
    make_stocked_product,
    place_order,
    signed_notify,
    transaction,
)


async def notify(client: httpx.AsyncClient, params: dict[str, str]) -> httpx.Response:
    return await client.get("/notify/epay", params=params)


class TestCreateOrder:
    async def test_number_is_issued_before_payment(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        await make_product(db, price_cents=1050)
        body = await place_order(client, quantity=2)
        assert order_numbers.is_valid(body["order_no"])
        assert body["status"] == "unpaid"
        assert body["amount"] == "21.00"
        assert body["amount_cents"] == 2100
        assert body["pay_url"].startswith("http://epay.sandbox.test/submit.php?")
        assert f"out_trade_no={body['order_no']}" in body["pay_url"]
        assert "money=21.00" in body["pay_url"]
        shown = (await client.get(f"/api/shop/orders/{body['order_no']}")).json()
        assert shown["status"] == "unpaid"
        assert [e["type"] for e in shown["timeline"]] == ["created"]
        assert shown["goods"] == []  # the ordering browser: nothing delivered yet

    async def test_numbers_are_distinct_and_not_sequential(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        await make_product(db)
        numbers = [int((await place_order(client))["order_no"]) for _ in range(20)]
        assert len(set(numbers)) == 20
        gaps = {b - a for a, b in itertools.pairwise(numbers)}
        assert len(gaps) > 15  # random, not a counter

    @pytest.mark.parametrize(
        ("payload", "status", "error"),
        [
            ({"product": "NOPE"}, 404, "product_not_found"),
            ({"product": "GAME-10", "quantity": 0}, 422, "invalid_input"),
            ({"product": "GAME-10", "quantity": 11}, 422, "quantity_invalid"),
            ({"product": "GAME-10", "gateway": "paypal"}, 422, "channel_unknown"),
            ({"product": "GAME-10", "channel": "paypal"}, 422, "channel_unknown"),
            ({"product": "GAME-10", "query_password": "12"}, 422, "invalid_input"),
            ({"product": "GAME-10", "surprise": 1}, 422, "invalid_input"),
            ({}, 422, "invalid_input"),
        ],
    )
    async def test_bad_input_is_refused_and_creates_nothing(
        self,
        client: httpx.AsyncClient,
        db: Sessions,
        payload: dict[str, Any],
        status: int,
        error: str,
    ) -> None:
        await make_product(db)
        response = await client.post("/api/shop/orders", json=payload)
        assert response.status_code == status
        assert response.json()["error"] == error
        assert response.json()["message"]
        assert await count(db, "SELECT count(*) FROM orders") == 0

    async def test_errors_speak_the_buyers_language(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        zh = await client.post("/api/shop/orders", json={"product": "NOPE"})
        en = await client.post("/api/shop/orders?lang=en", json={"product": "NOPE"})
        assert zh.json()["message"] == "商品不存在或已下架：NOPE"
        assert en.json()["message"] == "No such product, or it is no longer on sale: NOPE"

    async def test_malformed_json_is_a_clear_422(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        response = await client.post(
            "/api/shop/orders", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json()["error"] == "invalid_input"


class TestPayAndDeliver:
    async def test_paid_notify_delivers_keys_to_the_owner_only(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        keys = (await make_stocked_product(db, settings, 3, price_cents=1000)).keys
        order = await place_order(client, quantity=2, query_password="secret1")
        response = await notify(client, signed_notify(settings, order["order_no"], 2000))
        assert response.status_code == 200
        assert response.text == "success"

        public = await httpx.AsyncClient(
            transport=client._transport,  # no cookie: a stranger
            base_url="http://shop.test",
        ).get(f"/api/shop/orders/{order['order_no']}")
        body = public.json()
        assert body["status"] == "delivered"
        assert body["goods"] is None and body["goods_hidden"] is True
        assert [e["type"] for e in body["timeline"]] == ["created", "paid", "delivered"]

        owner = (await client.get(f"/api/shop/orders/{order['order_no']}")).json()
        assert [(g["number"], g["password"]) for g in owner["goods"]] == keys[:2]
        stranger = httpx.AsyncClient(transport=client._transport, base_url="http://shop.test")
        with_password = (
            await stranger.get(
                f"/api/shop/orders/{order['order_no']}", headers={"X-Query-Password": "secret1"}
            )
        ).json()
        assert [(g["number"], g["password"]) for g in with_password["goods"]] == keys[:2]
        with_token = (
            await stranger.get(
                f"/api/shop/orders/{order['order_no']}", headers={"X-Order-Token": order["token"]}
            )
        ).json()
        assert len(with_token["goods"]) == 2
        assert await count(db, "SELECT count(*) FROM card_keys WHERE status = 'sold'") == 2
        assert await count(db, "SELECT count(*) FROM payments") == 1

    async def test_wrong_password_is_refused(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        await make_product(db)
        order = await place_order(client, query_password="secret1")
        stranger = httpx.AsyncClient(transport=client._transport, base_url="http://shop.test")
        response = await stranger.get(
            f"/api/shop/orders/{order['order_no']}", headers={"X-Query-Password": "guess"}
        )
        assert response.status_code == 403
        assert response.json()["error"] == "wrong_password"
        forged = await stranger.get(
            f"/api/shop/orders/{order['order_no']}",
            headers={"X-Order-Token": "AAAAAAAAAAAAAAAAAAAAAAAA"},
        )
        assert forged.json()["goods"] is None

    async def test_secrets_are_encrypted_at_rest(self, db: Sessions, settings: Settings) -> None:
        keys = (await make_stocked_product(db, settings, 1)).keys
        async with db() as s:
            from sqlalchemy import text

            blob = (await s.execute(text("SELECT secret FROM card_keys"))).scalar_one()
        assert keys[0][0].encode() not in blob and keys[0][1].encode() not in blob

    async def test_out_of_stock_waits_and_import_fulfils(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings, run_jobs: Any
    ) -> None:
        await make_stocked_product(db, settings, 1)
        first = await place_order(client, quantity=2)
        second = await place_order(client, quantity=1)
        assert (
            await notify(client, signed_notify(settings, first["order_no"], 2000))
        ).text == "success"
        assert (
            await notify(client, signed_notify(settings, second["order_no"], 1000))
        ).text == "success"
        one = (await client.get(f"/api/shop/orders/{first['order_no']}")).json()
        assert one["status"] == "awaiting_stock"
        assert one["delivered_quantity"] == 1 and len(one["goods"]) == 1
        assert "缺货" in one["explanation"]["text"]
        assert one["explanation"]["cause"] == "processing"
        assert (await client.get(f"/api/shop/orders/{second['order_no']}")).json()["status"] == (
            "awaiting_stock"
        )

        # The operator imports one key: the import itself queues the restock job.
        import psycopg

        from kameng.cardkeys.importer import import_card_keys
        from kameng.db.engine import libpq_url

        async with await psycopg.AsyncConnection.connect(
            libpq_url(settings.database_url or "")
        ) as c:
            report = await import_card_keys(
                c,
                product_sku="GAME-10",
                lines=["NEW-1 PW-1\n"],
                cipher=settings.card_key_cipher(),
            )
        assert report.imported == 1
        await run_jobs()
        one = (await client.get(f"/api/shop/orders/{first['order_no']}")).json()
        two = (await client.get(f"/api/shop/orders/{second['order_no']}")).json()
        # Oldest paid first: the first order gets the single new key.
        assert one["status"] == "delivered" and len(one["goods"]) == 2
        assert [e["type"] for e in one["timeline"]] == [
            "created",
            "paid",
            "awaiting_stock",
            "delivered",
        ]
        assert two["status"] == "awaiting_stock" and two["goods"] == []
        assert ("NEW-1", "PW-1") in [(g["number"], g["password"]) for g in one["goods"]]
        await import_keys(db, settings, "GAME-10", key_lines(1, prefix="LATER"))
        # The restock job that import queued is lost: the sweeper must find the order.
        async with transaction(db) as conn:
            lost = await conn.execute(
                "DELETE FROM procrastinate_jobs WHERE task_name = %s AND status = 'todo'",
                (JobName.RESTOCK.value,),
            )
            assert lost.rowcount == 1
        from kameng.fulfilment.tasks import sweep_awaiting_stock

        await sweep_awaiting_stock.defer_async(timestamp=0)  # the minute sweeper's safety net
        await run_jobs()
        two = (await client.get(f"/api/shop/orders/{second['order_no']}")).json()
        assert two["status"] == "delivered" and len(two["goods"]) == 1


@pytest.mark.parametrize("field", ["product", "contact", "query_password", "gateway"])
async def test_control_characters_are_refused(
    client: httpx.AsyncClient, db: Sessions, field: str
) -> None:
    await make_product(db)
    payload = {"product": "GAME-10", field: "bad\x00value"}
    response = await client.post("/api/shop/orders", json=payload)
    assert response.status_code == 422
    assert "控制字符" in response.json()["message"]
    assert await count(db, "SELECT count(*) FROM orders") == 0


async def test_password_guessing_is_throttled(
    client: httpx.AsyncClient, db: Sessions, settings: Settings, clock: Any
) -> None:
    await make_stocked_product(db, settings, 1)
    order = await place_order(client, query_password="right-one")
    await notify(client, signed_notify(settings, order["order_no"], 1000))
    stranger = httpx.AsyncClient(transport=client._transport, base_url="http://shop.test")
    url = f"/api/shop/orders/{order['order_no']}"
    for _ in range(10):
        assert (await stranger.get(url, headers={"X-Query-Password": "guess"})).status_code == 403
    blocked = await stranger.get(url, headers={"X-Query-Password": "right-one"})
    assert blocked.status_code == 429
    assert blocked.json()["message"] == (
        "查询密码错误次数过多，请 15 分钟后再试，或在下单的浏览器中查看"
    )
    # The owner's browser is never locked out, and the lock ends by itself.
    assert len((await client.get(url)).json()["goods"]) == 1
    clock.advance(minutes=15)
    assert (
        len((await stranger.get(url, headers={"X-Query-Password": "right-one"})).json()["goods"])
        == 1
    )
