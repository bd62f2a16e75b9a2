"""Finding an order with whatever the buyer typed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from kameng.config import Settings
from tests.factories import Sessions, make_product, make_stocked_product, place_order, signed_notify


@pytest.fixture
async def order(client: httpx.AsyncClient, db: Sessions) -> dict[str, Any]:
    await make_product(db)
    return await place_order(client)


async def lookup(client: httpx.AsyncClient, q: str) -> dict[str, Any]:
    response = await client.get("/api/shop/lookup", params={"q": q})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


class TestLookup:
    async def test_exact_and_sloppy_forms_find_the_order(
        self, client: httpx.AsyncClient, order: dict[str, Any]
    ) -> None:
        n = order["order_no"]
        for typed in (
            n,
            f" {n[:4]} {n[4:8]} {n[8:12]} {n[12:]} ",
            f"{n[:8]}-{n[8:]}",
            fullwidth(n),
        ):
            body = await lookup(client, typed)
            assert body["kind"] == "order", typed
            assert body["order"]["order_no"] == n
            assert "goods" not in body["order"]  # a lookup never reveals keys
            why = body["explanation"]
            assert why["cause"] == "not_paid"
            assert datetime.fromisoformat(why["expected_at"]) == datetime.fromisoformat(
                order["expires_at"]
            )
            assert [a["kind"] for a in why["actions"]] == ["pay"]

    async def test_wrong_check_digit_suggests(
        self, client: httpx.AsyncClient, order: dict[str, Any]
    ) -> None:
        n = order["order_no"]
        typo = n[:5] + str((int(n[5]) + 1) % 10) + n[6:]
        body = await lookup(client, typo)
        assert body["kind"] == "suggestions"
        assert body["suggestions"] == [n]  # the number only, nothing about the order
        assert body["order"] is None and body["status"] is None
        assert "您是不是要找" in body["message"]

    async def test_swapped_and_missing_digits_suggest(
        self, client: httpx.AsyncClient, order: dict[str, Any]
    ) -> None:
        n = order["order_no"]
        i = next(i for i in range(15) if n[i] != n[i + 1])
        swapped = n[:i] + n[i + 1] + n[i] + n[i + 2 :]
        assert (await lookup(client, swapped))["suggestions"] == [n]
        missing = n[:7] + n[8:]
        assert (await lookup(client, missing))["suggestions"] == [n]

    async def test_payment_trade_number_finds_the_order(
        self, client: httpx.AsyncClient, order: dict[str, Any], settings: Settings, db: Sessions
    ) -> None:
        product_id = (await client.get("/api/shop/products")).json()[0]["sku"]
        assert product_id == "GAME-10"
        await client.get(
            "/notify/epay",
            params=signed_notify(settings, order["order_no"], 1000, trade_no="2026112599887766"),
        )
        body = await lookup(client, "2026112599887766")
        assert body["kind"] == "trade_no"
        assert body["order"]["order_no"] == order["order_no"]

    @pytest.mark.parametrize(
        ("q", "kind", "phrase"),
        [
            ("", "invalid", "请输入订单号"),
            ("12345", "not_found", "您输入了 5 位"),
            ("1234567890123450", "not_found", "没有找到"),
            ("1234567890123453", "not_found", "校验位不对"),
            ("CARD-ABCD-EFGH", "not_found", "不是卡密或快递单号"),
            ("20261125120304123456", "not_found", "交易号"),
            ("'; DROP TABLE orders; --", "not_found", "没有找到"),
            ("x" * 128, "not_found", "没有找到"),
        ],
    )
    async def test_misses_are_explained(
        self, client: httpx.AsyncClient, order: dict[str, Any], q: str, kind: str, phrase: str
    ) -> None:
        body = await lookup(client, q)
        assert body["kind"] == kind
        assert phrase in body["message"]
        assert body["order"] is None and body["suggestions"] == []

    async def test_over_long_query_is_a_clear_422(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        response = await client.get("/api/shop/lookup", params={"q": "1" * 501})
        assert response.status_code == 422
        assert response.json()["error"] == "invalid_input"

    async def test_order_path_with_typo_is_422_not_500(
        self, client: httpx.AsyncClient, order: dict[str, Any]
    ) -> None:
        response = await client.get("/api/shop/orders/123")
        assert response.status_code == 422
        assert response.json()["error"] == "order_number_invalid"
        missing = await client.get("/api/shop/orders/1234567890123450")
        assert missing.status_code == 404
        assert missing.json()["error"] == "order_not_found"


async def test_products_list_shows_capped_stock(
    client: httpx.AsyncClient, db: Sessions, settings: Settings
) -> None:
    await make_stocked_product(db, settings, 3)
    await make_product(db, sku="EMPTY", name="空", price_cents=1)
    body = (await client.get("/api/shop/products")).json()
    assert [(p["sku"], p["in_stock"], p["stock_capped"], p["price"]) for p in body] == [
        ("GAME-10", 3, False, "10.00"),
        ("EMPTY", 0, False, "0.01"),
    ]
