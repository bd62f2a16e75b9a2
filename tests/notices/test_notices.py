"""Announcements: publishing (bad input refused, nothing written), the time
window, which orders a scope touches, and how the order answers show them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn
from kameng.fulfilment.supply import repository as supply_repo
from kameng.kit import clock
from kameng.kit.i18n import translator
from kameng.models.vocabulary import NoticeScope, OrderEventType
from kameng.notices import service
from kameng.notices.errors import (
    NoticeNotFound,
    NoticeTargetInvalid,
    NoticeTextInvalid,
    NoticeWindowInvalid,
)
from kameng.notices.repository import NoticeRow
from kameng.orders.explain import explain
from kameng.orders.repository import EventRow, OrderRow
from tests.factories import count, make_order, make_product, transaction

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def publish(
    pool: AsyncConnectionPool[Conn],
    scope: NoticeScope = NoticeScope.ALL,
    target: str | None = None,
    *,
    zh: str = "供应商维护中",
    en: str = "Supplier maintenance",
    starts: datetime | None = None,
    ends: datetime | None = None,
) -> NoticeRow:
    now = clock.now()
    async with transaction(pool) as conn:
        return await service.publish(
            conn,
            text_zh=zh,
            text_en=en,
            scope=scope,
            target=target,
            starts_at=starts or now,
            ends_at=ends or now + HOUR,
            now=now,
        )


async def touching(pool: AsyncConnectionPool[Conn], order: OrderRow, at: datetime) -> list[int]:
    async with transaction(pool) as conn:
        board = await service.not_ended(conn, clock.now())
        found = await service.touching_order(
            conn,
            board,
            order_id=order.id,
            product_sku=order.product_sku,
            channel=order.gateway,
            now=at,
        )
    return [n.id for n in found]


async def add_supplier_attempt(pool: AsyncConnectionPool[Conn], order: OrderRow, code: str) -> None:
    async with transaction(pool) as conn:
        supplier_id = await supply_repo.insert_supplier(
            conn,
            code=code,
            name=code,
            base_url="http://127.0.0.1:1/",
            merchant_id="m",
            secret_sealed=b"x",
            priority=1,
            now=clock.now(),
        )
        await supply_repo.insert_attempt(
            conn, order_id=order.id, supplier_id=supplier_id, request_no=order.order_no, now=NOW
        )


class TestPublish:
    @pytest.mark.parametrize(
        ("fields", "error"),
        [
            ({"zh": "  "}, NoticeTextInvalid),
            ({"en": ""}, NoticeTextInvalid),
            ({"en": "x" * 501}, NoticeTextInvalid),
            ({"zh": "bad\x00text"}, NoticeTextInvalid),
            ({"ends": NOW - HOUR}, NoticeWindowInvalid),
            ({"starts": NOW + 2 * HOUR, "ends": NOW + HOUR}, NoticeWindowInvalid),
            ({"scope": NoticeScope.PRODUCT, "target": "NOPE"}, NoticeTargetInvalid),
            ({"scope": NoticeScope.PRODUCT}, NoticeTargetInvalid),
            ({"scope": NoticeScope.SUPPLIER, "target": "SUP-X"}, NoticeTargetInvalid),
            ({"scope": NoticeScope.CHANNEL, "target": "bad name!"}, NoticeTargetInvalid),
            ({"scope": NoticeScope.ALL, "target": "GAME-10"}, NoticeTargetInvalid),
        ],
    )
    async def test_bad_input_is_refused_and_nothing_written(
        self, pool: AsyncConnectionPool[Conn], clock: Any, fields: dict[str, Any], error: type
    ) -> None:
        await make_product(pool)
        scope = fields.pop("scope", NoticeScope.ALL)
        target = fields.pop("target", None)
        with pytest.raises(error):
            await publish(pool, scope, target, **fields)
        assert await count(pool, "SELECT count(*) FROM notices") == 0

    async def test_refusal_is_worded_in_both_languages(self) -> None:
        err = NoticeTargetInvalid(target="NOPE")
        assert err.translated(translator("en")).startswith("Unknown scope target NOPE")
        assert "NOPE" in err.translated(translator("zh_CN"))
        assert err.translated(translator("zh_CN")) != err.translated(translator("en"))

    async def test_texts_are_kept_with_whitespace_folded(
        self, pool: AsyncConnectionPool[Conn], clock: Any
    ) -> None:
        await make_product(pool)
        notice = await publish(pool, NoticeScope.PRODUCT, "GAME-10", zh=" 维护\n中 ", en="Down ")
        assert (notice.text_zh, notice.text_en, notice.target) == ("维护 中", "Down", "GAME-10")
        assert notice.text_for("zh_CN") == "维护 中" and notice.text_for("en") == "Down"


class TestWindowAndEnd:
    async def test_active_only_inside_its_window(
        self, pool: AsyncConnectionPool[Conn], clock: Any
    ) -> None:
        await make_product(pool)
        order = await make_order(pool)
        later = await publish(pool, starts=NOW + HOUR, ends=NOW + 2 * HOUR)
        assert await touching(pool, order, NOW) == []
        assert await touching(pool, order, NOW + HOUR) == [later.id]
        assert await touching(pool, order, NOW + 2 * HOUR) == []

    async def test_end_stops_it_and_a_second_end_is_refused(
        self, pool: AsyncConnectionPool[Conn], clock: Any
    ) -> None:
        await make_product(pool)
        order = await make_order(pool)
        running = await publish(pool)
        future = await publish(pool, starts=NOW + HOUR, ends=NOW + 2 * HOUR)
        async with transaction(pool) as conn:
            ended = await service.end(conn, running.id, NOW)
            withdrawn = await service.end(conn, future.id, NOW)
        assert ended.ends_at == NOW and ended.starts_at == NOW - timedelta(microseconds=1)
        assert withdrawn.ends_at == NOW and withdrawn.starts_at < NOW
        assert await touching(pool, order, NOW) == []
        assert await touching(pool, order, NOW + HOUR) == []
        with pytest.raises(NoticeNotFound):
            async with transaction(pool) as conn:
                await service.end(conn, running.id, NOW)
        with pytest.raises(NoticeNotFound):
            async with transaction(pool) as conn:
                await service.end(conn, 999_999, NOW)
        async with transaction(pool) as conn:
            assert await service.listing(conn, NOW) == []
            assert [n.id for n in await service.listing(conn, NOW, ended=True)] == [
                future.id,
                running.id,
            ]


class TestScope:
    async def test_each_scope_touches_only_its_orders(
        self, pool: AsyncConnectionPool[Conn], clock: Any
    ) -> None:
        await make_product(pool)
        await make_product(pool, sku="GAME-50", name="游戏点卡 50 元", price_cents=5000)
        game10 = await make_order(pool)
        game50 = await make_order(pool, "GAME-50", gateway="alipay")
        with_supplier = await make_order(pool, "GAME-50")
        await add_supplier_attempt(pool, with_supplier, "SUP-A")
        by_product = await publish(pool, NoticeScope.PRODUCT, "GAME-10")
        by_channel = await publish(pool, NoticeScope.CHANNEL, "alipay")
        by_supplier = await publish(pool, NoticeScope.SUPPLIER, "SUP-A")
        assert await touching(pool, game10, NOW) == [by_product.id]
        assert await touching(pool, game50, NOW) == [by_channel.id]
        assert await touching(pool, with_supplier, NOW) == [by_supplier.id]
        everyone = await publish(pool)
        assert await touching(pool, game10, NOW) == [by_product.id, everyone.id]


def _order(status: str = "paid") -> OrderRow:
    return OrderRow(
        id=1, order_no="1234567890123452", product_id=1, product_sku="GAME-10",
        product_name="游戏点卡 10 元", product_kind="card_key",  # type: ignore[arg-type]
        quantity=1, unit_price_cents=1000, amount_cents=1000, contact=None,
        query_password_hash=None, gateway="epay", status=status,  # type: ignore[arg-type]
        delivered_quantity=0, created_at=NOW, expires_at=NOW + HOUR, paid_at=NOW,
        delivered_at=None,
    )  # fmt: skip


def _notice() -> NoticeRow:
    return NoticeRow(
        id=7, text_zh="支付宝维护", text_en="Alipay is down", scope=NoticeScope.ALL,
        target=None, starts_at=NOW, ends_at=NOW + HOUR, created_at=NOW,
    )  # fmt: skip


class TestExplanation:
    def test_a_moving_order_mentions_the_notice_in_the_buyers_language(self) -> None:
        events = [EventRow(OrderEventType.PAID, {}, "gateway", NOW)]  # type: ignore[arg-type]
        zh = explain(_order(), events, translator("zh_CN"), now=NOW, notices=[_notice()])
        en = explain(_order(), events, translator("en"), now=NOW, notices=[_notice()])
        assert [(n.text, n.ends_at) for n in zh.notices] == [("支付宝维护", NOW + HOUR)]
        assert [n.text for n in en.notices] == ["Alipay is down"]
        assert en.text.endswith(
            "The shop has posted a notice that concerns this order (see below)."
        )
        plain = explain(_order(), events, translator("en"), now=NOW)
        assert plain.notices == () and "notice" not in plain.text

    def test_a_final_order_lists_it_without_the_sentence(self) -> None:
        events = [EventRow(OrderEventType.DELIVERED, {}, "system", NOW)]  # type: ignore[arg-type]
        why = explain(_order("delivered"), events, translator("en"), now=NOW, notices=[_notice()])
        assert why.cause is None and [n.text for n in why.notices] == ["Alipay is down"]
        assert "notice" not in why.text


class TestHttp:
    async def test_storefront_order_page_api_and_lookup_show_it_only_where_it_touches(
        self, client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn]
    ) -> None:
        await make_product(pool)
        await make_product(pool, sku="GAME-50", name="游戏点卡 50 元", price_cents=5000)
        touched = await make_order(pool)
        untouched = await make_order(pool, "GAME-50")
        await publish(pool, NoticeScope.PRODUCT, "GAME-10", zh="十元卡补货中", en="Restocking")

        index = await client.get("/")
        assert "十元卡补货中" in index.text
        page = await client.get(f"/o/{touched.order_no}")
        assert page.status_code == 200 and "十元卡补货中" in page.text
        other = await client.get(f"/o/{untouched.order_no}")
        assert other.status_code == 200 and "十元卡补货中" not in other.text
        live = await client.get(f"/o/{touched.order_no}/live")
        assert "十元卡补货中" in live.text

        api = await client.get(f"/api/shop/orders/{touched.order_no}?lang=en")
        assert [n["text"] for n in api.json()["explanation"]["notices"]] == ["Restocking"]
        api_other = await client.get(f"/api/shop/orders/{untouched.order_no}?lang=en")
        assert api_other.json()["explanation"]["notices"] == []
        found = await client.get("/api/shop/lookup", params={"q": touched.order_no, "lang": "en"})
        assert [n["text"] for n in found.json()["explanation"]["notices"]] == ["Restocking"]
