"""The order page's read: status, timeline and goods agree even when the
payment commits while the page is being read (at READ COMMITTED each read
takes its own snapshot)."""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn, transaction
from kameng.fulfilment.service import StrategyGoods
from kameng.kit import clock
from kameng.kit.throttle import AttemptThrottle
from kameng.models.vocabulary import OrderEventType, OrderStatus
from kameng.orders import service as orders
from kameng.orders.repository import OrderRow
from kameng.orders.service import CardKeyItem, GoodsSource, OrderDetail
from tests.factories import make_order, make_stocked_product, pay


class NeverBlocked:
    limit = 5
    window = timedelta(minutes=15)

    async def blocked(self, key: str, now: datetime) -> bool:
        return False

    async def failed(self, key: str, now: datetime) -> None:
        return None


class PaidMeanwhile:
    """Goods read just after the notify committed on another connection."""

    def __init__(self, settings: Settings, pool: AsyncConnectionPool[Conn]) -> None:
        self.settings, self.pool = settings, pool
        self.inner = StrategyGoods(settings.card_key_cipher())

    async def goods_of(self, conn: Conn, order: OrderRow) -> list[CardKeyItem]:
        outcome = await pay(self.pool, self.settings, order)
        assert outcome.verdict == "accepted", outcome
        return await self.inner.goods_of(conn, order)


async def _read(
    settings: Settings, pool: AsyncConnectionPool[Conn], order_no: str, goods: GoodsSource
) -> OrderDetail:
    """The order's detail as the owner (right query password) reads it."""
    async with transaction(pool) as conn:
        return await orders.get_detail(
            conn,
            order_no,
            password="open sesame",
            token=None,
            goods=goods,
            token_secrets=[b"s" * 32],
            passwords=settings.query_passwords(),
            throttle=_throttle(),
            now=clock.now(),
        )


async def test_keys_are_never_shown_beside_a_status_that_says_unpaid(
    settings: Settings, pool: AsyncConnectionPool[Conn]
) -> None:
    stocked = await make_stocked_product(pool, settings, 2, key_prefix="RACE")
    order = await make_order(
        pool, stocked.product.sku, query_password="open sesame", settings=settings
    )
    detail = await _read(settings, pool, order.order_no, PaidMeanwhile(settings, pool))
    assert [(g.number, g.password) for g in detail.goods or []] == stocked.keys[:1]
    assert detail.order.status == OrderStatus.DELIVERED
    assert [e.type for e in detail.timeline][-1] == OrderEventType.DELIVERED


async def test_an_unpaid_order_read_without_interference_stays_unpaid(
    settings: Settings, pool: AsyncConnectionPool[Conn]
) -> None:
    stocked = await make_stocked_product(pool, settings, 1, key_prefix="CALM")
    order = await make_order(
        pool, stocked.product.sku, query_password="open sesame", settings=settings
    )
    detail = await _read(settings, pool, order.order_no, StrategyGoods(settings.card_key_cipher()))
    assert (detail.order.status, detail.goods) == (OrderStatus.UNPAID, [])
    assert [e.type for e in detail.timeline] == [OrderEventType.CREATED]


def _throttle() -> AttemptThrottle:
    return NeverBlocked()
