"""Product SQL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class ProductRow:
    id: int
    sku: str
    name: str
    kind: str
    price_cents: int
    max_quantity: int
    description: str


_COLUMNS = "id, sku, name, kind, price_cents, max_quantity, description"


async def active_by_sku(session: AsyncSession, sku: str) -> ProductRow | None:
    result = await session.execute(
        text(f"SELECT {_COLUMNS} FROM products WHERE sku = :sku AND active"), {"sku": sku}
    )
    row = result.first()
    return ProductRow(*row) if row else None


async def by_sku(session: AsyncSession, sku: str) -> ProductRow | None:
    result = await session.execute(
        text(f"SELECT {_COLUMNS} FROM products WHERE sku = :sku"), {"sku": sku}
    )
    row = result.first()
    return ProductRow(*row) if row else None


async def list_active(session: AsyncSession) -> list[ProductRow]:
    result = await session.execute(
        text(f"SELECT {_COLUMNS} FROM products WHERE active ORDER BY id")
    )
    return [ProductRow(*row) for row in result]
