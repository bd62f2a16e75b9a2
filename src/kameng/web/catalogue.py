"""The product list as every request of one web process sees it: read from the
database at most once per ``catalog_cache_seconds`` (1 s by default), the JSON
body of ``GET /api/shop/products`` built once per read.

Why: the list is the most requested page and its stock figure is a capped
count of unsold keys; counting per request held the list at ~850/s. Stock shown
may therefore be up to ``catalog_cache_seconds`` (plus one read) old in each
process. Ordering is unaffected: allocation in the paid transaction is the only
authority on stock, so a stale figure never oversells (an order beyond the
stock waits in ``awaiting_stock``, visibly).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool
from pydantic import TypeAdapter

from kameng.catalog.fields import parse_fields
from kameng.catalog.service import Listing, list_products
from kameng.db.connection import Conn, transaction
from kameng.kit import clock
from kameng.kit.money import format_yuan
from kameng.kit.snapshot import Snapshot
from kameng.notices import service as notices
from kameng.notices.repository import NoticeRow
from kameng.orders.schemas import BuyerFieldOut, ProductOut

_PRODUCTS_JSON = TypeAdapter(list[ProductOut])


@dataclass(frozen=True, slots=True)
class Catalogue:
    listings: list[Listing]
    products_json: bytes  # the API's body, a list[ProductOut]


def product_out(x: Listing) -> ProductOut:
    return ProductOut(
        sku=x.product.sku,
        name=x.product.name,
        kind=x.product.kind,
        price=format_yuan(x.product.price_cents),
        price_cents=x.product.price_cents,
        max_quantity=x.product.max_quantity,
        in_stock=x.in_stock,
        stock_capped=x.stock_capped,
        description=x.product.description,
        fields=[
            BuyerFieldOut(
                name=f.name,
                label_zh=f.label_zh,
                label_en=f.label_en,
                pattern=f.pattern,
                example=f.example,
            )
            for f in parse_fields(x.product.buyer_fields)
        ],
    )


def catalogue_snapshot(pool: AsyncConnectionPool[Conn], *, ttl: float) -> Snapshot[Catalogue]:
    async def load() -> Catalogue:
        async with transaction(pool) as conn:
            listings = await list_products(conn)
        body = _PRODUCTS_JSON.dump_json([product_out(x) for x in listings])
        return Catalogue(listings=listings, products_json=body)

    return Snapshot(load, ttl=ttl)


def notice_board(pool: AsyncConnectionPool[Conn], *, ttl: float) -> Snapshot[list[NoticeRow]]:
    """The announcements not ended yet, re-read at most once per ``ttl`` seconds;
    each request filters the active ones by its own clock."""

    async def load() -> list[NoticeRow]:
        async with transaction(pool) as conn:
            return await notices.not_ended(conn, clock.now())

    return Snapshot(load, ttl=ttl)
