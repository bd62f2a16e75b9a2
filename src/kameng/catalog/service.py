"""What the storefront lists: active products with a stock figure that never
counts a whole pool of keys."""

from __future__ import annotations

from dataclasses import dataclass

from kameng.cardkeys.repository import available_counts
from kameng.catalog import repository
from kameng.catalog.repository import ProductRow
from kameng.db.connection import Conn

STOCK_CAP = 1000  # shown as "999+" above this; exact counts are an operator concern


@dataclass(frozen=True, slots=True)
class Listing:
    product: ProductRow
    in_stock: int  # capped at STOCK_CAP
    stock_capped: bool


async def list_products(conn: Conn) -> list[Listing]:
    products = await repository.list_active(conn)
    counts = await available_counts(conn, [p.id for p in products], STOCK_CAP)
    return [
        Listing(
            product=p, in_stock=counts.get(p.id, 0), stock_capped=counts.get(p.id, 0) >= STOCK_CAP
        )
        for p in products
    ]
