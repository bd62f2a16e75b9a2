"""Product kinds beside card keys: a top-up's buyer fields, upstream cards,
manual products; one strategy per kind, no order code per kind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn, fetch_one, transaction
from kameng.fulfilment.strategies.registry import STRATEGIES, for_kind
from kameng.fulfilment.supply.manual import NotAwaitingOperator, fulfil_manual
from kameng.kit import clock
from kameng.models.vocabulary import OrderStatus, ProductKind
from tests.factories import csrf_form, pay
from tests.supply.harness import (
    Sandbox,
    current,
    drive,
    event_types,
    paid_topup,
    setup_suppliers,
    supply_config,
)


def test_every_kind_has_its_strategy() -> None:
    assert set(STRATEGIES) == set(ProductKind)


async def _rows(pool: AsyncConnectionPool[Conn], sql: str, **params: Any) -> Any:
    async with transaction(pool) as conn:
        return await fetch_one(conn, sql, params)


async def test_product_list_says_kind_and_fields(
    client: Any, pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    await setup_suppliers(pool, supply_config(settings), "http://127.0.0.1:9")
    response = await client.get("/api/shop/products")
    [product] = response.json()
    assert product["kind"] == "topup"
    assert product["fields"] == [
        {
            "name": "phone",
            "label_zh": "手机号",
            "label_en": "Phone number",
            "pattern": "1[3-9][0-9]{9}",
            "example": "13800138000",
        }
    ]


@pytest.mark.parametrize(
    ("fields", "lang", "code", "message"),
    [
        (None, "zh", "field_missing", "请填写手机号（例如 13800138000）"),
        ({"phone": "12345"}, "zh", "field_invalid", "手机号 格式不对，应类似 13800138000"),
        ({"phone": "12345"}, "en", "field_invalid",
         "Phone number is not valid; it should look like 13800138000"),
        ({"phone": "13800138000", "qq": "1"}, "en", "field_unknown",
         "This product has no field named qq"),
        # Full-width digits count as digits (１２３４５ is 12345: still too short);
        # other digit look-alikes (circled, superscript) do not.
        ({"phone": "１２３４５"}, "en", "field_invalid",
         "Phone number is not valid; it should look like 13800138000"),
        ({"phone": "1380013800①"}, "en", "field_invalid",
         "Phone number is not valid; it should look like 13800138000"),
        ({"phone": "1380013800²"}, "en", "field_invalid",
         "Phone number is not valid; it should look like 13800138000"),
    ],
)  # fmt: skip
async def test_a_bad_field_is_a_422_naming_it_and_creates_nothing(
    client: Any,
    pool: AsyncConnectionPool[Conn],
    settings: Settings,
    fields: dict[str, str] | None,
    lang: str,
    code: str,
    message: str,
) -> None:
    await setup_suppliers(pool, supply_config(settings), "http://127.0.0.1:9")
    body: dict[str, Any] = {"product": "TOPUP-10"}
    if fields is not None:
        body["fields"] = fields
    response = await client.post(f"/api/shop/orders?lang={lang}", json=body)
    assert response.status_code == 422
    assert response.json() == {"error": code, "message": message}
    assert (await _rows(pool, "SELECT count(*) FROM orders"))[0] == 0


async def test_good_fields_are_kept_with_the_order(
    client: Any, pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    await setup_suppliers(pool, supply_config(settings), "http://127.0.0.1:9")
    response = await client.post(
        "/api/shop/orders", json={"product": "TOPUP-10", "fields": {"phone": " 13900139000 "}}
    )
    assert response.status_code == 201
    row = await _rows(pool, "SELECT fields FROM order_inputs")
    assert row[0] == {"phone": "13900139000"}


async def test_full_width_digits_are_kept_half_width(
    client: Any, pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    await setup_suppliers(pool, supply_config(settings), "http://127.0.0.1:9")
    response = await client.post(
        "/api/shop/orders",
        json={"product": "TOPUP-10", "fields": {"phone": "１３８００１３８０００"}},
    )
    assert response.status_code == 201, response.text
    row = await _rows(pool, "SELECT fields FROM order_inputs")
    assert row[0] == {"phone": "13800138000"}


async def test_buy_form_takes_full_width_digits_browser_and_server(
    client: Any, pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    await setup_suppliers(pool, supply_config(settings), "http://127.0.0.1:9")
    page = await client.get("/")
    # The browser's pattern takes the full-width digits the server normalises.
    assert 'name="field_phone" required pattern="[1１][3-9３-９][0-9０-９]{9}"' in page.text
    bought = await client.post(
        "/buy",
        data=await csrf_form(
            client,
            {"product": "TOPUP-10", "quantity": "1", "field_phone": "１３９００１３９０００"},
        ),
    )
    assert bought.status_code == 303, bought.text
    row = await _rows(pool, "SELECT fields FROM order_inputs")
    assert row[0] == {"phone": "13900139000"}
    wrong = await client.post(
        "/buy",
        data=await csrf_form(
            client, {"product": "TOPUP-10", "quantity": "1", "field_phone": "１２３４５"}
        ),
    )
    assert wrong.status_code == 422
    assert (await _rows(pool, "SELECT count(*) FROM orders"))[0] == 1


async def test_upstream_card_is_stored_sealed_and_shown_like_own_keys(
    pool: AsyncConnectionPool[Conn], live_shop: str, live_settings: Settings, sandbox: Sandbox
) -> None:
    cfg = supply_config(live_settings)
    await setup_suppliers(
        pool, cfg, sandbox.url, sku="UPCARD", kind=ProductKind.UPSTREAM_CARD, b_code=None
    )
    order = await paid_topup(pool, live_settings, sku="UPCARD", fields={}, quantity=2)
    done = await drive(pool, cfg, order)
    assert done.status == OrderStatus.DELIVERED and done.delivered_quantity == 2
    [received] = sandbox.received(order.order_no)
    assert received["type"] == "card" and received["quantity"] == 2
    async with transaction(pool) as conn:
        goods = await for_kind(done.product_kind).goods_of(
            conn, done, cipher=live_settings.card_key_cipher()
        )
        stored = await fetch_one(
            conn, "SELECT secret FROM card_keys WHERE order_id = %(o)s LIMIT 1", {"o": order.id}
        )
    assert [(g.number, g.password) for g in goods] == [
        (c["number"], c["password"]) for c in received["cards"]
    ]
    assert received["cards"][0]["number"].encode() not in bytes(stored[0])  # sealed
    assert (await event_types(pool, order))[-1] == "delivered"


async def test_manual_order_waits_for_the_operator(
    pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    cfg = supply_config(settings)
    await setup_suppliers(
        pool, cfg, "http://127.0.0.1:9", sku="MANUAL", kind=ProductKind.MANUAL, a_code=None,
        b_code=None,
    )  # fmt: skip
    order = await paid_topup(pool, settings, sku="MANUAL", fields={})
    assert order.status == OrderStatus.AWAITING_OPERATOR
    async with transaction(pool) as conn:
        await fulfil_manual(conn, order.order_no, text="已充值到 QQ 12345", now=clock.now())
    done = await current(pool, order.order_no)
    assert done.status == OrderStatus.DELIVERED
    async with transaction(pool) as conn:
        [goods] = await for_kind(done.product_kind).goods_of(
            conn, done, cipher=settings.card_key_cipher()
        )
        with pytest.raises(NotAwaitingOperator):
            await fulfil_manual(conn, order.order_no, text="again", now=clock.now())
    assert goods.number == "已充值到 QQ 12345"
    assert await event_types(pool, order) == [
        "created", "paid", "awaiting_operator", "manual_delivered",
    ]  # fmt: skip


async def _delivered_through_the_api(
    pool: AsyncConnectionPool[Conn], shop: str, settings: Settings, sku: str, body: dict[str, Any]
) -> str:
    """Bought by the JSON API with a query password, paid, driven to the end."""
    async with httpx.AsyncClient(base_url=shop) as client:
        created = await client.post(
            "/api/shop/orders", json={"product": sku, "query_password": "pw-1234", **body}
        )
    assert created.status_code == 201, created.text
    order = await current(pool, created.json()["order_no"])
    assert (await pay(pool, settings, order)).verdict == "accepted"
    done = await drive(pool, supply_config(settings), order)
    assert done.status == OrderStatus.DELIVERED
    return order.order_no


async def _shown(shop: str, order_no: str) -> tuple[list[dict[str, Any]], str]:
    """The goods in the JSON API and the order page, both opened by the query password."""
    async with httpx.AsyncClient(base_url=shop) as client:
        api = await client.get(
            f"/api/shop/orders/{order_no}", headers={"X-Query-Password": "pw-1234"}
        )
        page = await client.post(
            f"/o/{order_no}", data=await csrf_form(client, {"password": "pw-1234"})
        )
    assert api.status_code == 200 and page.status_code == 200, (api.text, page.text)
    return list(api.json()["goods"]), page.text


async def test_upstream_cards_render_exactly_like_own_card_keys(
    pool: AsyncConnectionPool[Conn], live_shop: str, live_settings: Settings, sandbox: Sandbox
) -> None:
    cfg = supply_config(live_settings)
    await setup_suppliers(
        pool, cfg, sandbox.url, sku="UPCARD", kind=ProductKind.UPSTREAM_CARD, b_code=None
    )
    order_no = await _delivered_through_the_api(
        pool, live_shop, live_settings, "UPCARD", {"quantity": 2}
    )
    [received] = sandbox.received(order_no)
    goods, page = await _shown(live_shop, order_no)
    assert goods == [
        {"kind": "card_key", "number": c["number"], "password": c["password"]}
        for c in received["cards"]
    ]
    assert received["voucher"] not in page  # the supplier's voucher is no card number
    cards = page.split('data-goods="card_key"')[1].split("</table>")[0]
    for n, card in enumerate(received["cards"], 1):
        assert f"<th>卡号 {n}</th><td>{card['number']}</td>" in cards  # the page's default zh
        assert f"<th>密码</th><td>{card['password']}</td>" in cards
    assert 'data-goods="topup_receipt"' not in page


async def test_a_topup_shows_its_receipt_not_a_card_key(
    pool: AsyncConnectionPool[Conn], live_shop: str, live_settings: Settings, sandbox: Sandbox
) -> None:
    await setup_suppliers(pool, supply_config(live_settings), sandbox.url)
    order_no = await _delivered_through_the_api(
        pool, live_shop, live_settings, "TOPUP-10", {"fields": {"phone": "13800138000"}}
    )
    [received] = sandbox.received(order_no)
    goods, page = await _shown(live_shop, order_no)
    assert goods == [{"kind": "topup_receipt", "number": received["voucher"], "password": ""}]
    assert f'data-goods="topup_receipt"><tr><th>凭证号</th><td>{received["voucher"]}</td>' in page
    assert "<h3>充值凭证</h3>" in page
    assert 'data-goods="card_key"' not in page and "<th>密码</th>" not in page
