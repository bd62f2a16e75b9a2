"""Every identifier kind the box takes, and what each one may show."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kameng.config import Settings
from tests.factories import Sessions, add_keys, create_product, place_order, signed_notify

EPAY_TRADE = "2026112512030412345"  # payment time + 5 digits
ALIPAY_TRADE = "2026112522001412345678901234"  # 28 digits
WECHAT_TRADE = "4200001234202611251234567890"  # 28 digits


def stranger(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Same app, no cookie."""
    return httpx.AsyncClient(transport=client._transport, base_url="http://shop.test")


async def lookup(c: httpx.AsyncClient, q: str, **proof: str) -> dict[str, Any]:
    if proof:
        response = await c.post("/api/shop/lookup", json={"q": q, **proof})
    else:
        response = await c.get("/api/shop/lookup", params={"q": q})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def paid(client: httpx.AsyncClient, db: Sessions, settings: Settings) -> dict[str, Any]:
    product_id = await create_product(db)
    keys = await add_keys(db, settings, product_id, 2)
    order = await place_order(client, query_password="right-one", contact="Buyer@Example.com")
    response = await client.get(
        "/notify/epay", params=signed_notify(settings, order["order_no"], 1000, trade_no=EPAY_TRADE)
    )
    assert response.text == "success"
    return {**order, "keys": keys}


class TestPastedNumbers:
    @pytest.mark.parametrize(
        "template",
        [
            "订单号：{a} {b} {c} {d}",
            "Order No.: {a}-{b}-{c}-{d}",
            "【卡盟】您的订单{a}{b}{c}{d}已支付，金额 ¥10.00",
            "商品：点卡\n订单号：{a}{b}{c}{d}\n金额：10.00\n日期：2026-11-25\n电话：13800138000",
        ],
    )
    async def test_label_and_other_numbers_are_ignored(
        self, client: httpx.AsyncClient, paid: dict[str, Any], template: str
    ) -> None:
        n = paid["order_no"]
        text = template.format(a=n[:4], b=n[4:8], c=n[8:12], d=n[12:])
        body = await lookup(stranger(client), text)
        assert body["kind"] == "order"
        assert body["order"]["order_no"] == n

    async def test_letters_for_digits(
        self, client: httpx.AsyncClient, paid: dict[str, Any]
    ) -> None:
        n = paid["order_no"]
        table = str.maketrans({"0": "O", "1": "l", "5": "S", "8": "B", "2": "Z"})
        body = await lookup(stranger(client), "订单号：" + n.translate(table))
        assert (body["kind"], body["order"]["order_no"]) == ("order", n)


class TestTradeNumber:
    async def test_alone_shows_state_and_masked_number_only(
        self, client: httpx.AsyncClient, paid: dict[str, Any]
    ) -> None:
        n = paid["order_no"]
        body = await lookup(stranger(client), f"支付宝交易号：{EPAY_TRADE}")
        assert body["kind"] == "trade_no"
        assert body["order"] is None
        assert body["masked_order_no"] == n[:4] + "********" + n[-4:]
        assert body["status"] == "delivered"
        assert body["explanation"] is None
        assert n not in str(body)

    @pytest.mark.parametrize("proof", [{"password": "right-one"}, {"contact": "buyer@example.com"}])
    async def test_with_password_or_contact_opens_it(
        self, client: httpx.AsyncClient, paid: dict[str, Any], proof: dict[str, str]
    ) -> None:
        body = await lookup(stranger(client), EPAY_TRADE, **proof)
        assert (body["kind"], body["order"]["order_no"]) == ("trade_no", paid["order_no"])
        assert body["explanation"]["cause"] is None  # delivered: final
        assert (
            "no courier tracking number" in body["explanation"]["text"]
            or "快递" in (body["explanation"]["text"])
        )

    async def test_wrong_proof_shows_nothing_more(
        self, client: httpx.AsyncClient, paid: dict[str, Any]
    ) -> None:
        body = await lookup(stranger(client), EPAY_TRADE, password="guess")
        assert body["order"] is None and paid["order_no"] not in str(body)
        assert "不符" in body["message"]

    async def test_the_ordering_browser_sees_it_in_full(
        self, client: httpx.AsyncClient, paid: dict[str, Any]
    ) -> None:
        body = await lookup(client, EPAY_TRADE)
        assert body["order"]["order_no"] == paid["order_no"]

    @pytest.mark.parametrize("trade", [EPAY_TRADE[:-1] + "9", ALIPAY_TRADE, WECHAT_TRADE])
    async def test_unknown_trade_number_is_named(
        self, client: httpx.AsyncClient, paid: dict[str, Any], trade: str
    ) -> None:
        body = await lookup(client, trade)
        assert (body["kind"], body["order"]) == ("not_found", None)
        assert "交易号" in body["message"]


class TestWrongPath:
    async def test_card_key_is_recognised_and_owner_told_the_order(
        self, client: httpx.AsyncClient, paid: dict[str, Any]
    ) -> None:
        number, password = paid["keys"][0]
        body = await lookup(stranger(client), f"{number} {password}")
        assert (body["kind"], body["card_order_no"]) == ("card_key", None)
        assert paid["order_no"] not in str(body)
        owner = await lookup(client, number)
        assert (owner["kind"], owner["card_order_no"]) == ("card_key", paid["order_no"])
        with_password = await lookup(stranger(client), number, password="right-one")
        assert with_password["card_order_no"] == paid["order_no"]

    async def test_unsold_card_key_is_not_recognised(
        self, client: httpx.AsyncClient, paid: dict[str, Any]
    ) -> None:
        # Only keys already issued to an order: stock stays unconfirmable.
        body = await lookup(client, "CARD1-000099")
        assert body["kind"] == "not_found"

    @pytest.mark.parametrize(
        ("q", "courier"),
        [
            ("SF1234567890123", "SF"),
            ("顺丰 sf1234567890123", "SF"),
            ("YT1234567890123", "YTO"),
            ("JDVA12345678901", "JD"),
            ("EA123456789CN", "EMS"),
            ("快递单号 75123456789012", "ZTO"),
        ],
    )
    async def test_courier_numbers_get_told_where_to_look(
        self, client: httpx.AsyncClient, paid: dict[str, Any], q: str, courier: str
    ) -> None:
        body = await lookup(client, q)
        assert (body["kind"], body["courier"]) == ("tracking_no", courier)
        assert "快递" in body["message"] and "虚拟商品" in body["message"]

    async def test_tracking_question_about_a_card_order(
        self, client: httpx.AsyncClient, paid: dict[str, Any]
    ) -> None:
        body = await lookup(client, f"快递单号查询 {paid['order_no']}")
        assert body["kind"] == "order"
        assert "没有快递单号" in body["message"]


class TestContactAndPassword:
    async def test_lists_the_contacts_orders_newest_first_paginated(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        await create_product(db)
        mine = [
            (await place_order(client, contact="13800138000", query_password="pw-one"))["order_no"]
            for _ in range(12)
        ]
        other_pw = await place_order(client, contact="13800138000", query_password="pw-two")
        await place_order(client, contact="13900000000", query_password="pw-one")
        ask = stranger(client)
        first = (
            await ask.post(
                "/api/shop/lookup/contact", json={"contact": "13800138000", "password": "pw-one"}
            )
        ).json()
        assert [o["order_no"] for o in first["orders"]] == mine[::-1][:10]
        assert first["more"] is True
        second = (
            await ask.post(
                "/api/shop/lookup/contact",
                json={"contact": "13800138000", "password": "pw-one", "page": 2},
            )
        ).json()
        assert [o["order_no"] for o in second["orders"]] == mine[::-1][10:]
        assert second["more"] is False
        assert other_pw["order_no"] not in str(first) + str(second)
        wrong = await ask.post(
            "/api/shop/lookup/contact", json={"contact": "13800138000", "password": "nope"}
        )
        assert wrong.json() == {"orders": [], "page": 1, "more": False}


class TestMalformed:
    @pytest.mark.parametrize(
        "q",
        [
            "\x00\x01",
            "　",
            "订单号：",
            "|||||",
            "O" * 400,
            "1" * 500,
            "𝟙𝟚𝟛",
            "%s %(x)s {0}",
            "<script>alert(1)</script>",
            "1234-" * 99,
        ],
    )
    async def test_never_an_error(
        self, client: httpx.AsyncClient, paid: dict[str, Any], q: str
    ) -> None:
        body = await lookup(client, q)
        assert body["kind"] in ("invalid", "not_found", "suggestions")
        assert body["order"] is None


class TestSecretsStayOutOfUrls:
    async def test_query_password_and_token_in_the_url_are_ignored(
        self, client: httpx.AsyncClient, paid: dict[str, Any]
    ) -> None:
        url = f"/api/shop/orders/{paid['order_no']}"
        ask = stranger(client)
        for params in ({"password": "right-one"}, {"token": paid["token"]}):
            assert (await ask.get(url, params=params)).json()["goods"] is None
        headers = {"X-Query-Password": "right-one"}
        assert len((await ask.get(url, headers=headers)).json()["goods"]) == 1
