"""Product SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from kameng.db.connection import Conn, execute, fetch_all_as, fetch_one_as
from kameng.db.rows import row_of
from kameng.models.vocabulary import ProductKind


@row_of("products")
@dataclass(frozen=True, slots=True)
class ProductRow:
    id: int
    sku: str
    name: str
    kind: ProductKind
    price_cents: int
    max_quantity: int
    description: str
    buyer_fields: list[dict[str, Any]]
    sla_seconds: int
    refund_after_seconds: int


_COLUMNS = (
    "id, sku, name, kind, price_cents, max_quantity, description, buyer_fields, sla_seconds, "
    "refund_after_seconds"
)
_SELECT = f"SELECT {_COLUMNS} FROM products"


async def active_by_sku(conn: Conn, sku: str) -> ProductRow | None:
    return await fetch_one_as(
        conn, ProductRow, _SELECT + " WHERE sku = %(sku)s AND active", {"sku": sku}
    )


async def list_active(conn: Conn) -> list[ProductRow]:
    return await fetch_all_as(conn, ProductRow, _SELECT + " WHERE active ORDER BY id")


async def insert_product(
    conn: Conn,
    *,
    sku: str,
    name: str,
    kind: ProductKind,
    price_cents: int,
    max_quantity: int,
    description: str,
    now: datetime,
) -> ProductRow:
    """A new active product (operators and demo data; the console comes later)."""
    row = await fetch_one_as(
        conn,
        ProductRow,
        "INSERT INTO products (sku, name, kind, price_cents, max_quantity, description,"
        " active, created_at) VALUES (%(sku)s, %(name)s, %(kind)s, %(price_cents)s,"
        " %(max_quantity)s, %(description)s, true, %(now)s)"
        f" RETURNING {_COLUMNS}",
        {
            "sku": sku,
            "name": name,
            "kind": kind,
            "price_cents": price_cents,
            "max_quantity": max_quantity,
            "description": description,
            "now": now,
        },
    )
    assert row is not None  # RETURNING of an INSERT without conflict handling
    return row


async def by_id(conn: Conn, product_id: int) -> ProductRow | None:
    return await fetch_one_as(conn, ProductRow, _SELECT + " WHERE id = %(id)s", {"id": product_id})


async def set_supply_terms(
    conn: Conn,
    product_id: int,
    *,
    buyer_fields: list[dict[str, Any]],
    sla_seconds: int,
    refund_after_seconds: int,
) -> None:
    """What the buyer fills in and the deadlines from payment (operators, demo data)."""
    await execute(
        conn,
        "UPDATE products SET buyer_fields = %(f)s, sla_seconds = %(sla)s, "
        "refund_after_seconds = %(refund)s WHERE id = %(id)s",
        {
            "f": Jsonb(buyer_fields),
            "sla": sla_seconds,
            "refund": refund_after_seconds,
            "id": product_id,
        },
    )
