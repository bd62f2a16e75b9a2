"""The hot statements' plans with a big database (issue 8: flat as data grows).

One database of this module's own holds 200,000 delivered orders (each with a
payment, two timeline events and a sold key), 100,000 keys in stock and a few
unpaid orders, written with set-based SQL and analysed, as after an import.
Each hot path runs the app's own code (lookup service, repositories) on a
connection that records every statement it sends; then every recorded
statement is EXPLAINed with its parameters. A statement may not read a big
table by sequential scan nor sort a big set, and each path must go through
the index it is built on. (The plans at 1 M rows are the same kind; the bench,
``make bench-scale``, measures them at 10 k / 100 k / 1 M.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from kameng.cardkeys.repository import claim_keys, secrets_of_order
from kameng.catalog.service import list_products
from kameng.db.engine import libpq_url
from kameng.kit import order_numbers
from kameng.lookup.service import Proof, lookup, orders_of_contact
from kameng.orders import repository as orders
from kameng.payments import repository as payments
from tests.factories import make_product
from tests.support import run_sync
from tests.support.databases import TestDatabases

DELIVERED = 200_000
IN_STOCK = 100_000
UNPAID = 10
BIG_TABLES = {"orders", "order_events", "payments", "card_keys", "payment_notifies"}
BIG_SORT = 1_000  # a Sort expected to get more rows than this sorts a big set
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# The target order (a delivered one in the middle of the table) gets a valid number.
TARGET = DELIVERED // 2


def fingerprint(text: str) -> bytes:
    """Stands for the shop's keyed fingerprint (the SQL below computes the same)."""
    return hashlib.sha256(text.encode()).digest()[:16]


@dataclass(frozen=True)
class Big:
    url: str
    product_id: int
    order_no: str  # the target's (Damm-valid) number
    order_id: int
    trade_no: str
    contact: str
    card: str  # the target's sold card number
    unpaid_no: str  # an unpaid order's number


@pytest.fixture(scope="module")
def big(test_databases: TestDatabases) -> Iterator[Big]:
    url = test_databases.private_copy()
    product_id = run_sync(make_product(url, sku="GAME-10", name="GAME-10", price_cents=100)).id
    order_no = order_numbers.generate()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        # Rows consistent by construction: no foreign-key probe per row, no NOTIFY.
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "INSERT INTO orders (id, order_no, product_id, quantity, unit_price_cents,"
            " amount_cents, contact, query_password_hash, gateway, status, delivered_quantity,"
            " created_at, expires_at, paid_at, delivered_at, updated_at)"
            " SELECT g, (1000000000000000 + g * 7919)::text, %(p)s, 1, 100, 100,"
            "  'buyer' || g / 3 || '@example.com', 'x', 'epay',"
            "  CASE WHEN g > %(n)s THEN 'unpaid' ELSE 'delivered' END,"
            "  CASE WHEN g > %(n)s THEN 0 ELSE 1 END,"
            "  %(now)s - g * interval '30 s', %(now)s - g * interval '30 s' + interval '15 min',"
            "  CASE WHEN g <= %(n)s THEN %(now)s - g * interval '30 s' END,"
            "  CASE WHEN g <= %(n)s THEN %(now)s - g * interval '30 s' END, %(now)s"
            " FROM generate_series(1, %(n)s + %(u)s) AS g",
            {"p": product_id, "n": DELIVERED, "u": UNPAID, "now": NOW},
        )
        conn.execute(
            "INSERT INTO payments (order_id, gateway, trade_no, amount_cents, method,"
            " received_at) SELECT g, 'epay', (20260000000000000 + g)::text, 100, 'alipay',"
            " %(now)s FROM generate_series(1, %(n)s) AS g",
            {"n": DELIVERED, "now": NOW},
        )
        conn.execute(
            "INSERT INTO order_events (order_id, type, params, actor, created_at)"
            " SELECT g, e.type, '{}', 'system', %(now)s FROM generate_series(1, %(n)s) AS g,"
            " (VALUES ('created'), ('delivered')) AS e(type) ORDER BY g",
            {"n": DELIVERED, "now": NOW},
        )
        # Sold keys (one per delivered order), then the stock, in pool order.
        conn.execute(
            "INSERT INTO card_keys (product_id, status, fingerprint, secret, order_id, slot,"
            " created_at, sold_at) SELECT %(p)s, 'sold',"
            " substring(sha256(convert_to('CK' || g, 'UTF8')) FROM 1 FOR 16), '\\x00', g, 1,"
            " %(now)s, %(now)s FROM generate_series(1, %(n)s) AS g",
            {"p": product_id, "n": DELIVERED, "now": NOW},
        )
        conn.execute(
            "INSERT INTO card_keys (product_id, fingerprint, secret, created_at)"
            " SELECT %(p)s, substring(sha256(convert_to('AV' || g, 'UTF8')) FROM 1 FOR 16),"
            " '\\x00', %(now)s FROM generate_series(1, %(n)s) AS g",
            {"p": product_id, "n": IN_STOCK, "now": NOW},
        )
        conn.execute("UPDATE orders SET order_no = %s WHERE id = %s", (order_no, TARGET))
        for table in ("orders", "order_events", "payments", "card_keys"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        conn.execute("RESET session_replication_role")
        conn.execute("VACUUM (ANALYZE)")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_events),"
            " (SELECT count(*) FROM card_keys WHERE status = 'sold'),"
            " (SELECT count(*) FROM card_keys WHERE status = 'available')"
        ).fetchone()
        assert counts == (DELIVERED + UNPAID, 2 * DELIVERED, DELIVERED, IN_STOCK)
    yield Big(
        url=url,
        product_id=product_id,
        order_no=order_no,
        order_id=TARGET,
        trade_no=str(20260000000000000 + TARGET),
        contact=f"buyer{TARGET // 3}@example.com",
        card=f"CK{TARGET}",
        unpaid_no=str(1000000000000000 + (DELIVERED + 1) * 7919),
    )
    test_databases.drop_later(url)


# -- recording the statements a path sends ---------------------------------------------


@dataclass(frozen=True)
class Sent:
    sql: str
    params: Any


class Recorder:
    sent: list[Sent] | None = None


class RecordingCursor(psycopg.AsyncCursor[Any]):
    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> RecordingCursor:
        await super().execute(query, params, **kwargs)
        if Recorder.sent is not None:
            sql = query if isinstance(query, str) else query.as_string(self.connection)
            Recorder.sent.append(Sent(sql, params))
        return self


@asynccontextmanager
async def recording(url: str) -> AsyncIterator[tuple[psycopg.AsyncConnection[Any], list[Sent]]]:
    """A connection whose statements are recorded; everything rolled back."""
    conn = await psycopg.AsyncConnection.connect(libpq_url(url), cursor_factory=RecordingCursor)
    sent: list[Sent] = []
    Recorder.sent = sent
    try:
        yield conn, sent
    finally:
        Recorder.sent = None
        await conn.rollback()
        await conn.close()


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


async def plans_of(big: Big, path: Callable[[Any, Big], Awaitable[Any]]) -> list[dict[str, Any]]:
    """Run the path, then EXPLAIN each statement it sent (same parameters)."""
    async with recording(big.url) as (conn, sent):
        await path(conn, big)
        Recorder.sent = None
        plans = []
        for statement in sent:
            cur = await conn.execute("EXPLAIN (FORMAT JSON) " + statement.sql, statement.params)
            raw = (await cur.fetchone())[0]  # type: ignore[index]
            plans.append((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
    assert plans, "the path sent no statement"
    return plans


# -- the hot paths -----------------------------------------------------------------------


async def yes(_stored: str | None, _password: str) -> bool:
    return True


def lookup_of(query: Callable[[Big], str]) -> Callable[[Any, Big], Awaitable[Any]]:
    async def path(conn: Any, big: Big) -> Any:
        result = await lookup(conn, query(big), Proof(), fingerprint=fingerprint)
        return result

    return path


def mistyped(number: str) -> str:
    return number[:7] + str((int(number[7]) + 3) % 10) + number[8:]


async def order_detail(conn: Any, big: Big) -> None:
    order = await orders.get_by_number(conn, big.order_no)
    assert order is not None
    assert len(await orders.events_of(conn, order.id)) == 2
    assert len(await secrets_of_order(conn, order.id)) == 1


async def contact_lookup(conn: Any, big: Big) -> None:
    found, _more = await orders_of_contact(conn, big.contact, "pw", yes, page=1)
    assert found


async def paid_notify(conn: Any, big: Big) -> None:
    order = await orders.lock_by_number(conn, big.unpaid_no)
    assert order is not None
    assert await payments.order_of_trade(conn, "epay", "T-new") is None
    done = await payments.pay_and_deliver_keys(
        conn, order_id=order.id, product_id=big.product_id, quantity=1, gateway="epay",
        trade_no="T-new", amount_cents=100, method="alipay", paid_params={}, now=NOW,
    )  # fmt: skip
    assert (done.recorded, done.moved, done.keys) == (True, True, 1)


async def allocation(conn: Any, big: Big) -> None:
    order = await orders.lock_by_number(conn, big.unpaid_no)
    assert order is not None
    taken = await claim_keys(
        conn, product_id=big.product_id, order_id=order.id, wanted=1, first_slot=1, now=NOW
    )
    assert len(taken) == 1


async def stock(conn: Any, big: Big) -> None:
    listings = await list_products(conn)
    assert [x.product.sku for x in listings] == ["GAME-10"]


PATHS: dict[str, tuple[Callable[[Any, Big], Awaitable[Any]], set[tuple[str, str]]]] = {
    # path: (the app's code, the (table, index) it must go through; "a|b": either)
    "lookup by order number": (
        lookup_of(lambda b: b.order_no),
        {("orders", "uq_orders_order_no")},
    ),
    "lookup by a mistyped number": (
        lookup_of(lambda b: mistyped(b.order_no)),
        {("orders", "uq_orders_order_no"), ("payments", "ix_payments_trade_no")},
    ),
    "lookup by a number pasted with its label": (
        lookup_of(lambda b: f"订单号：{b.order_no[:8]} {b.order_no[8:]}，金额 1.00 元"),
        {("orders", "uq_orders_order_no")},
    ),
    "lookup by trade number": (
        lookup_of(lambda b: b.trade_no),
        {("payments", "ix_payments_trade_no"), ("orders", "pk_orders")},
    ),
    "lookup by card key": (
        lookup_of(lambda b: b.card),
        {("card_keys", "ix_card_keys_sold_fingerprint"), ("orders", "pk_orders")},
    ),
    "lookup by contact + password": (contact_lookup, {("orders", "ix_orders_contact")}),
    "order detail": (
        order_detail,
        {
            ("orders", "uq_orders_order_no"),
            ("order_events", "ix_order_events_order"),
            ("card_keys", "uq_card_keys_order_id_slot"),
        },
    ),
    "paid notify": (
        paid_notify,
        {
            ("orders", "uq_orders_order_no"),
            ("payments", "uq_payments_gateway_trade_no|ix_payments_trade_no"),
            ("card_keys", "ix_card_keys_pool"),
        },
    ),
    "key allocation (SKIP LOCKED)": (allocation, {("card_keys", "ix_card_keys_pool")}),
    "product list stock": (stock, {("card_keys", "ix_card_keys_pool")}),
}


def scans_of(plans: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(table, index, node type) of every read of a big table."""
    return {
        (n["Relation Name"], n.get("Index Name", ""), n["Node Type"])
        for plan in plans
        for n in nodes(plan)
        if n.get("Relation Name") in BIG_TABLES and n["Node Type"] != "ModifyTable"
    }


def faults(plans: list[dict[str, Any]]) -> list[str]:
    """What makes a plan's cost grow with the tables: a big table read whole, a
    big set sorted."""
    found = [f"{node} on {table}" for table, _, node in scans_of(plans)
             if node in ("Seq Scan", "Sample Scan")]  # fmt: skip
    found += [
        f"{n['Node Type']} of ~{n['Plans'][0].get('Plan Rows', 0)} rows"
        for plan in plans
        for n in nodes(plan)
        if n["Node Type"] in ("Sort", "Incremental Sort")
        and n["Plans"][0].get("Plan Rows", 0) > BIG_SORT
    ]
    return found


@pytest.mark.parametrize("name", list(PATHS))
def test_hot_path_uses_its_index_at_scale(big: Big, name: str) -> None:
    path, wanted = PATHS[name]
    plans = run_sync(plans_of(big, path))
    scans = scans_of(plans)
    assert faults(plans) == [], scans
    used = {(table, index) for table, index, _ in scans}
    for table, indexes in wanted:
        assert {(table, i) for i in indexes.split("|")} & used, (table, indexes, scans)


def test_a_plan_that_reads_a_big_table_whole_is_refused(big: Big) -> None:
    """The checks above can fail: a statement without a usable index reads orders
    whole (a search by amount), one that orders by a column without an index
    sorts them all."""

    async def unindexed(conn: Any, _big: Big) -> None:
        await conn.execute("SELECT id FROM orders WHERE amount_cents = %s LIMIT 5", (7,))
        await conn.execute("SELECT id FROM orders ORDER BY updated_at, amount_cents LIMIT 5")

    plans = run_sync(plans_of(big, unindexed))
    assert faults(plans[:1]) == ["Seq Scan on orders"]
    problems = faults(plans[1:])
    assert "Seq Scan on orders" in problems
    assert [p for p in problems if p.startswith("Sort of ~")], problems
