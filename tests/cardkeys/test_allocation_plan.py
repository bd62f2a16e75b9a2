"""Pins the plan of the allocation query.

With 100,000 keys in stock and the 2,000 oldest (lowest pool_seq) sold, taking
the next keys must go through the partial index ``ix_card_keys_pool`` and touch
a handful of pages: a plan that walks sold keys (a non-partial index, the
primary key, a sequential scan) costs a page per sold key here, because the
keys' pool order is deliberately unrelated to where they lie on disk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from kameng.cardkeys.repository import AVAILABLE_COUNTS_SQL, CLAIM_KEYS_SQL
from kameng.catalog.service import STOCK_CAP
from kameng.db.engine import libpq_url
from kameng.payments.repository import PAY_AND_DELIVER_KEYS
from tests.factories import make_product
from tests.support import run_sync
from tests.support.databases import TestDatabases

IN_STOCK = 100_000
SOLD = 2_000
OTHER_PRODUCT_KEYS = 20_000
WANTED = 10

# Inner SELECT of CLAIM_KEYS_SQL: what EXPLAIN ANALYZE runs (and rolls back).
INNER_SELECT = re.search(
    r"\(\s*(SELECT id, pool_seq FROM card_keys.*?SKIP LOCKED)", CLAIM_KEYS_SQL, re.S
)


def inline(sql: str, values: dict[str, str]) -> str:
    """Replace ``%(name)s`` parameters by SQL literals (EXPLAIN takes no binds here)."""
    return re.sub(r"%\((\w+)\)s", lambda m: values[m.group(1)], sql)


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


@pytest.fixture(scope="module")
def pool_database(test_databases: TestDatabases) -> Iterator[str]:
    """A database of this module's own: both tests read the same big pool."""
    url = test_databases.private_copy()
    yield url
    test_databases.drop_later(url)


@pytest.fixture(scope="module")
def stock(pool_database: str) -> Iterator[tuple[psycopg.Connection[Any], int, int]]:
    """(connection, product id, order id): a big pool, its oldest keys sold, vacuumed.

    The keys and the sold order are written with set-based SQL on purpose: the
    importer cannot lay out 120,000 keys with a pool order unrelated to their
    place on disk, which is what makes a wrong plan visible.
    """
    product_id, other_id = (
        run_sync(make_product(pool_database, sku=sku, name=sku, price_cents=100)).id
        for sku in ("GAME-10", "GAME-50")
    )
    with psycopg.connect(libpq_url(pool_database), autocommit=True) as conn:
        # Another product's keys come first in pool order: an index on pool_seq
        # alone would walk them too.
        conn.execute(
            "INSERT INTO card_keys (product_id, pool_seq, fingerprint, secret, created_at)"
            " SELECT %s, g, int8send(g), '\\x00'::bytea, now()"
            " FROM generate_series(1, %s) AS g",
            (other_id, OTHER_PRODUCT_KEYS),
        )
        # pool_seq a permutation of the insertion order (7919 is prime to 100000):
        # keys next to each other in the pool are on different heap pages.
        conn.execute(
            "INSERT INTO card_keys (product_id, pool_seq, fingerprint, secret, created_at)"
            " SELECT %s, %s + 1 + (g * 7919) %% %s, int8send(g), '\\x00'::bytea, now()"
            " FROM generate_series(0, %s - 1) AS g",
            (product_id, OTHER_PRODUCT_KEYS, IN_STOCK, IN_STOCK),
        )
        order_id = conn.execute(
            "INSERT INTO orders (order_no, product_id, quantity, unit_price_cents, amount_cents,"
            " gateway, status, delivered_quantity, created_at, expires_at, paid_at,"
            " delivered_at, updated_at)"
            " VALUES ('1000000000000001', %s, %s, 100, %s, 'epay', 'delivered', %s,"
            " now(), now(), now(), now(), now()) RETURNING id",
            (product_id, SOLD, 100 * SOLD, SOLD),
        ).fetchone()[0]  # type: ignore[index]
        sold = conn.execute(
            "UPDATE card_keys AS k SET status = 'sold', order_id = %s, slot = s.n, sold_at = now()"
            " FROM (SELECT id, row_number() OVER (ORDER BY pool_seq) AS n FROM card_keys"
            "       WHERE product_id = %s ORDER BY pool_seq LIMIT %s) AS s"
            " WHERE k.id = s.id",
            (order_id, product_id, SOLD),
        ).rowcount
        assert sold == SOLD
        # Steady state: the sold keys' old index entries vacuumed away, fresh
        # statistics. (Before VACUUM the first scan still visits the 2,000 dead
        # entries once and marks them killed; that is cleanup, not plan choice.)
        conn.execute("VACUUM (ANALYZE) card_keys")
        first = OTHER_PRODUCT_KEYS + 1
        assert conn.execute(
            "SELECT status, count(*), min(pool_seq), max(pool_seq) FROM card_keys"
            " WHERE product_id = %s GROUP BY status ORDER BY status",
            (product_id,),
        ).fetchall() == [
            ("available", IN_STOCK - SOLD, first + SOLD, first + IN_STOCK - 1),
            ("sold", SOLD, first, first + SOLD - 1),
        ]
        yield conn, product_id, order_id


def test_claim_plan_uses_the_partial_pool_index(
    stock: tuple[psycopg.Connection[Any], int, int],
) -> None:
    conn, product_id, order_id = stock
    sql = inline(
        CLAIM_KEYS_SQL,
        {
            "product_id": str(product_id),
            "wanted": str(WANTED),
            "order_id": str(order_id),
            "first_slot": str(SOLD + 1),
            "now": "'2026-11-25 12:00:00+00'",
        },
    )
    raw = conn.execute("EXPLAIN (FORMAT JSON) " + sql).fetchone()[0]  # type: ignore[index]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scans = sorted(
        (n["Node Type"], n.get("Index Name", ""), n["Alias"])
        for n in nodes(plan)
        if n.get("Relation Name") == "card_keys" and n["Node Type"] != "ModifyTable"
    )
    # The pool is read through ix_card_keys_pool; the primary key only serves
    # the UPDATE's join back to the picked ids, never the choice of keys.
    assert scans == [
        ("Index Scan", "ix_card_keys_pool", "card_keys"),
        ("Index Scan", "pk_card_keys", "k"),
    ]
    pk_scan = next(n for n in nodes(plan) if n.get("Index Name") == "pk_card_keys")
    assert pk_scan["Index Cond"] == "(id = picked.id)"
    # Picking is a LIMIT straight over the index, in index order: no Sort (which
    # would read every available key first).
    limit = next(n for n in nodes(plan) if n["Node Type"] == "Limit")
    assert [(n["Node Type"], n.get("Index Name")) for n in nodes(limit)] == [
        ("Limit", None),
        ("LockRows", None),
        ("Index Scan", "ix_card_keys_pool"),
    ]
    pool_scan = next(nodes(limit["Plans"][0]["Plans"][0]))
    assert pool_scan["Index Cond"] == f"(product_id = {product_id})"
    assert pool_scan["Scan Direction"] == "Forward"


def test_claiming_reads_few_pages_despite_sold_keys(
    stock: tuple[psycopg.Connection[Any], int, int],
) -> None:
    conn, product_id, _ = stock
    assert INNER_SELECT is not None
    sql = inline(INNER_SELECT.group(1), {"product_id": str(product_id), "wanted": str(WANTED)})
    with conn.transaction(force_rollback=True):  # EXPLAIN ANALYZE really locks the rows
        raw = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql).fetchone()[0]  # type: ignore[index]
        rows = conn.execute(sql).fetchall()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    touched = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
    assert plan["Actual Rows"] == WANTED
    assert touched < 50, json.dumps(plan, indent=1)
    # and the keys taken are the oldest unsold ones
    first = OTHER_PRODUCT_KEYS + 1
    assert [r[1] for r in rows] == list(range(first + SOLD, first + SOLD + WANTED))


def test_the_one_statement_paid_notify_allocates_through_the_pool_index(
    stock: tuple[psycopg.Connection[Any], int, int],
) -> None:
    """The paid notify's single statement (allocation gated on the payment) keeps
    the allocation's plan: a LIMIT over ix_card_keys_pool, a few pages."""
    conn, product_id, _ = stock
    with conn.transaction(force_rollback=True):
        order_id = conn.execute(
            "INSERT INTO orders (order_no, product_id, quantity, unit_price_cents, amount_cents,"
            " gateway, status, delivered_quantity, created_at, expires_at, updated_at)"
            " VALUES ('1000000000000002', %s, %s, 100, %s, 'epay', 'unpaid', 0,"
            " now(), now(), now()) RETURNING id",
            (product_id, WANTED, 100 * WANTED),
        ).fetchone()[0]  # type: ignore[index]
        sql = inline(
            PAY_AND_DELIVER_KEYS,
            {
                "order_id": str(order_id),
                "gateway": "'epay'",
                "trade_no": "'T1'",
                "amount": str(100 * WANTED),
                "method": "'alipay'",
                "now": "'2026-11-25 12:00:00+00'",
                "product_id": str(product_id),
                "wanted": str(WANTED),
                "first_slot": "1",
                "quantity": str(WANTED),
                "surplus": "false",
                "paid_sources": "ARRAY['expired', 'unpaid']",
                "paid_params": "'{}'",
            },
        )
        raw = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql).fetchone()[0]  # type: ignore[index]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    limit = next(n for n in nodes(plan) if n["Node Type"] == "Limit")
    scan = [n for n in nodes(limit) if n.get("Relation Name") == "card_keys"]
    assert [(n["Node Type"], n["Index Name"], n["Scan Direction"]) for n in scan] == [
        ("Index Scan", "ix_card_keys_pool", "Forward")
    ]
    assert scan[0]["Index Cond"] == f"(product_id = {product_id})"
    assert not [n for n in nodes(limit) if n["Node Type"] == "Sort"]
    assert limit["Actual Rows"] == WANTED
    touched = limit["Shared Hit Blocks"] + limit["Shared Read Blocks"]
    assert touched < 50, json.dumps(limit, indent=1)


def test_the_stock_count_reads_at_most_the_cap_through_the_pool_index(
    stock: tuple[psycopg.Connection[Any], int, int],
) -> None:
    """The product list's stock figure: 98,000 unsold keys, at most 1,000 index
    entries read, never the whole pool (a peer counted every key per request)."""
    conn, product_id, _ = stock
    sql = inline(AVAILABLE_COUNTS_SQL, {"ids": f"ARRAY[{product_id}]", "cap": str(STOCK_CAP)})
    raw = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql).fetchone()[0]  # type: ignore[index]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scans = [n for n in nodes(plan) if n.get("Relation Name") == "card_keys"]
    assert [(n["Node Type"], n["Index Name"]) for n in scans] in (
        [("Index Only Scan", "ix_card_keys_pool")],
        [("Index Scan", "ix_card_keys_pool")],
    )
    assert scans[0]["Actual Rows"] == STOCK_CAP
    assert not [n for n in nodes(plan) if n["Node Type"] in ("Sort", "Seq Scan")]
    touched = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
    assert touched < STOCK_CAP + 100, json.dumps(plan, indent=1)
    assert conn.execute(sql).fetchall() == [(product_id, STOCK_CAP)]
