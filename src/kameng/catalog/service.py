"""What the storefront lists: active products with a stock figure that never
counts a whole pool of keys."""

from __future__ import annotations

from dataclasses import dataclass

from kameng.cardkeys.repository import available_counts
from kameng.catalog import repository
from kameng.catalog.fields import BuyerField, parse_fields
from kameng.catalog.repository import ProductRow
from kameng.db.connection import Conn
from kameng.models.vocabulary import ProductKind

STOCK_CAP = 1000  # shown as "999+" above this; exact counts are an operator concern


@dataclass(frozen=True, slots=True)
class Listing:
    product: ProductRow
    in_stock: int  # capped at STOCK_CAP
    stock_capped: bool

    @property
    def fields(self) -> list[BuyerField]:
        return parse_fields(self.product.buyer_fields)


async def list_products(conn: Conn) -> list[Listing]:
    products = await repository.list_active(conn)
    counts = await available_counts(conn, [p.id for p in products], STOCK_CAP)
    return [
        Listing(product=p, in_stock=STOCK_CAP, stock_capped=True)
        # Supplied on demand (top-up, upstream card, manual): no stock of our own.
        if p.kind != ProductKind.CARD_KEY
        else Listing(
            product=p, in_stock=counts.get(p.id, 0), stock_capped=counts.get(p.id, 0) >= STOCK_CAP
        )
        for p in products
    ]
