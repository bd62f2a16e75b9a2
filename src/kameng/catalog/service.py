"""What the storefront lists: active products with a stock figure that never
counts a whole pool of keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kameng.cardkeys.repository import available_counts
from kameng.catalog import repository
from kameng.catalog.repository import ProductRow

STOCK_CAP = 1000  # shown as "999+" above this; exact counts are an operator concern


@dataclass(frozen=True, slots=True)
class Listing:
    product: ProductRow
    in_stock: int  # capped at STOCK_CAP
    stock_capped: bool


async def list_products(session: AsyncSession) -> list[Listing]:
    products = await repository.list_active(session)
    counts = await available_counts(session, [p.id for p in products], STOCK_CAP)
    return [
        Listing(
            product=p, in_stock=counts.get(p.id, 0), stock_capped=counts.get(p.id, 0) >= STOCK_CAP
        )
        for p in products
    ]
