"""Product SQL."""

from __future__ import annotations

from dataclasses import dataclass

from kameng.db.connection import Conn, fetch_all, fetch_one


@dataclass(frozen=True, slots=True)
class ProductRow:
    id: int
    sku: str
    name: str
    kind: str
    price_cents: int
    max_quantity: int
    description: str


_SELECT = "SELECT id, sku, name, kind, price_cents, max_quantity, description FROM products"


async def active_by_sku(conn: Conn, sku: str) -> ProductRow | None:
    row = await fetch_one(conn, _SELECT + " WHERE sku = %(sku)s AND active", {"sku": sku})
    return ProductRow(*row) if row else None


async def list_active(conn: Conn) -> list[ProductRow]:
    return [
        ProductRow(*row) for row in await fetch_all(conn, _SELECT + " WHERE active ORDER BY id")
    ]
