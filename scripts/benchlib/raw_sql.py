"""The raw-SQL side: the app's transactions through bare psycopg 3, no HTTP, no pool.

Same statements (captured from the app, see ``benchlib.sql``), same order, same
parameters (same Python types, so same PostgreSQL types: ``Jsonb`` for jsonb),
the same results read, and the same transaction shape as the app's
``kameng.db.connection.transaction`` (``conn.transaction()``), so the raw
side makes exactly the app's round trips (``benchlib.wire`` checks that on the
wire). Default psycopg
settings (server-side prepare after 5 executions), exactly what the app's
pool connections get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from benchlib.http_client import Order, trade_no_for
from benchlib.load import Op, OpFailed
from benchlib.setup import SKU
from benchlib.sql import AppSql

# The app's own connection options: both sides open identical sessions.
from kameng.db.engine import CONNECT_OPTIONS
from kameng.kit import order_numbers
from kameng.orders.states import OrderStatus, sources_of

Conn = psycopg.AsyncConnection[TupleRow]
_NUMBER_ATTEMPTS = 5  # kameng.orders.service._NUMBER_ATTEMPTS


async def connect(url: str, count: int) -> list[Conn]:
    return [
        await psycopg.AsyncConnection.connect(url, options=CONNECT_OPTIONS) for _ in range(count)
    ]


async def close_all(conns: Sequence[Conn]) -> None:
    for conn in conns:
        await conn.close()


@dataclass(frozen=True, slots=True)
class NotifyItem:
    order: Order
    raw_query: str  # the same signed query string the HTTP run sends, kept in payment_notifies


class RawShop:
    def __init__(self, app_sql: AppSql, *, unpaid_ttl: timedelta) -> None:
        by = app_sql.by_kind
        self.product_by_sku = by("product_by_sku").sql
        self.insert_order = by("insert_order").sql
        self.lock_order = by("lock_order").sql
        self.insert_payment = by("insert_payment").sql
        self.to_paid = by("transition:paid_at").sql
        self.claim_keys = by("claim_keys").sql
        self.to_delivered = by("transition:delivered_at").sql
        self.record_notify = by("record_notify").sql
        self.ttl = unpaid_ttl
        self._paid_sources = sources_of(OrderStatus.PAID)
        self._delivered_sources = sources_of(OrderStatus.DELIVERED)

    # -- create: catalog.active_by_sku, then orders.insert_order ------------------------

    async def create(self, conn: Conn, quantity: int = 1) -> Order:
        async with conn.transaction():
            now = datetime.now(UTC)
            cur = await conn.execute(self.product_by_sku, {"sku": SKU})
            product = await cur.fetchone()
            if product is None:
                raise OpFailed(f"product {SKU} not found")
            product_id, price = product[0], product[4]
            for _ in range(_NUMBER_ATTEMPTS):
                order_no = order_numbers.generate()
                cur = await conn.execute(
                    self.insert_order,
                    {
                        "order_no": order_no,
                        "product_id": product_id,
                        "quantity": quantity,
                        "unit_price_cents": price,
                        "amount_cents": price * quantity,
                        "contact": None,
                        "query_password_hash": None,
                        "gateway": "epay",
                        "now": now,
                        "expires_at": now + self.ttl,
                        "params": Jsonb(
                            {
                                "quantity": quantity,
                                "amount_cents": price * quantity,
                                "gateway": "epay",
                            }
                        ),
                    },
                )
                if await cur.fetchone() is not None:
                    return Order(order_no, price * quantity)
            raise OpFailed("could not draw a free order number")

    # -- notify: payments.service.handle_notify / _apply_payment + CardKeyStrategy ------

    async def notify(self, conn: Conn, item: NotifyItem) -> None:
        order_no = item.order.order_no
        trade_no = trade_no_for(order_no)
        async with conn.transaction():
            now = datetime.now(UTC)
            cur = await conn.execute(self.lock_order, {"n": order_no})
            row = await cur.fetchone()
            if row is None:
                raise OpFailed(f"unknown order {order_no}")
            order_id, quantity, amount = row[0], row[6], row[8]
            gateway, status, delivered_qty = row[11], row[12], row[13]
            product_id = row[2]
            if gateway != "epay" or amount != item.order.amount_cents:
                raise OpFailed(f"order {order_no}: gateway/amount mismatch")
            cur = await conn.execute(
                self.insert_payment,
                {
                    "order_id": order_id,
                    "gateway": "epay",
                    "trade_no": trade_no,
                    "amount": amount,
                    "method": "alipay",
                    "now": now,
                },
            )
            if await cur.fetchone() is None:
                raise OpFailed(f"order {order_no} already paid")
            late = status == OrderStatus.EXPIRED
            cur = await conn.execute(
                self.to_paid,
                {
                    "to": OrderStatus.PAID.value,
                    "now": now,
                    "order_id": order_id,
                    "sources": self._paid_sources,
                    "event": "paid",
                    "params": Jsonb(
                        {
                            "gateway": "epay",
                            "trade_no": trade_no,
                            "amount_cents": amount,
                            "late": late,
                        }
                    ),
                    "actor": "gateway",
                    "delivered_quantity": None,
                },
            )
            if await cur.fetchone() is None:
                raise OpFailed(f"order {order_no}: illegal transition to paid")
            wanted = quantity - delivered_qty
            cur = await conn.execute(
                self.claim_keys,
                {
                    "product_id": product_id,
                    "order_id": order_id,
                    "wanted": wanted,
                    "first_slot": delivered_qty + 1,
                    "now": now,
                },
            )
            claimed = await cur.fetchall()
            delivered = delivered_qty + len(claimed)
            if delivered != quantity:
                raise OpFailed(f"order {order_no}: only {len(claimed)}/{wanted} keys in stock")
            cur = await conn.execute(
                self.to_delivered,
                {
                    "to": OrderStatus.DELIVERED.value,
                    "now": now,
                    "order_id": order_id,
                    "sources": self._delivered_sources,
                    "event": "delivered",
                    "params": Jsonb({"delivered": delivered, "quantity": quantity}),
                    "actor": "system",
                    "delivered_quantity": delivered,
                },
            )
            if await cur.fetchone() is None:
                raise OpFailed(f"order {order_no}: illegal transition to delivered")
            # Result never read, as in the app.
            await conn.execute(
                self.record_notify,
                {
                    "gateway": "epay",
                    "now": now,
                    "m": "GET",
                    "q": item.raw_query,
                    "b": "",
                    "addr": "127.0.0.1",
                    "otn": order_no,
                    "tn": trade_no,
                    "verdict": "accepted",
                    "detail": "paid",
                    "order_id": order_id,
                },
            )

    def create_op(self, conn: Conn) -> Op[int, Order]:
        async def op(_: int) -> Order:
            return await self.create(conn)

        return op

    def notify_op(self, conn: Conn) -> Op[NotifyItem, None]:
        async def op(item: NotifyItem) -> None:
            await self.notify(conn, item)

        return op
