"""Filling the bench database at scale with COPY (``bench.py --scale``).

Rows are modelled on a *template*: one real order that the app itself created
and paid in-process (``make_template``). Every filled row copies the template's
columns (whatever the schema holds today) and changes only what must differ:
ids, order number, trade number, contact, times, card numbers. So a filled
delivered order looks exactly like one the app delivered (its payment, its
three timeline events with the same parameters, its sold key), without
writing the app's columns by hand here.

What one ``fill`` step adds, streamed (rows are generated while COPY sends
them; memory does not grow with the number of rows):

- ``delivered`` orders, each with its payment (an epay-shaped trade number),
  its timeline (created, paid, delivered) and its sold card key (a real sealed
  key, fingerprinted with the shop's key, so the lookup box recognises it);
- ``unpaid`` orders (only the created event) for the notify phase to pay;
- ``in_stock`` sealed card keys, available, for those notifies to deliver.

Not filled: the notify log (``payment_notifies``), which no measured path
reads. The events' NOTIFY trigger is off while COPY runs (nobody listens; a
million pending notifications would only cost the filler memory).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from benchlib import setup
from benchlib.setup import Shop, log
from kameng.db.connection import make_pool
from kameng.kit import order_numbers
from kameng.kit.crypto import CardKeyCipher
from kameng.kit.money import format_yuan
from kameng.payments.gateways import epay_sign
from kameng.web.app import create_app

PASSWORD = "scale-Pass-1234"
ORDERS_PER_CONTACT = 3  # a buyer comes back: the contact lookup reads a few orders
SPACING = timedelta(seconds=30)  # between two filled orders, going back in time
HASHES = 1024  # distinct password hashes cycled over the rows (a hash per row costs 4 µs)
# Order numbers: 15 digits spread over [10^14, 10^15) by a multiplier prime to
# 9·10^14 (distinct for every index below that), then the Damm check digit.
# Neighbouring indexes get unrelated numbers, as random numbers would be.
_SPREAD = 7_919_000_003
_SPAN = 9 * 10**14


def order_no_of(index: int) -> str:
    body = str(10**14 + (index * _SPREAD) % _SPAN)
    return body + str(order_numbers.damm_digit(body))


def trade_no_of(index: int, paid: datetime) -> str:
    """epay's format: the payment time to the second, then five digits."""
    return f"{paid:%Y%m%d%H%M%S}{index % 100_000:05d}"


def contact_of(index: int) -> str:
    return f"buyer{index // ORDERS_PER_CONTACT}@scale.example"


def sold_card_of(index: int) -> str:
    return f"CKX{index:09d}W"


@dataclass(frozen=True)
class Table:
    """One template row: column names and values as text (jsonb as its text)."""

    columns: list[str]
    values: list[Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_at", {name: i for i, name in enumerate(self.columns)})

    def value(self, column: str) -> Any:
        return self.values[self._at[column]]  # type: ignore[attr-defined]

    def row(self, **changes: Any) -> list[Any]:
        out = list(self.values)
        at = self._at  # type: ignore[attr-defined]
        for name, value in changes.items():
            out[at[name]] = value
        return out


@dataclass(frozen=True)
class Template:
    product_id: int
    order: Table
    payment: Table
    events: list[Table]  # created, paid, delivered (in timeline order)
    key: Table
    password_hashes: list[str]

    def event_params(self, j: int, *, trade_no: str, order_no: str) -> Jsonb | None:
        """Event ``j``'s parameters with the template's trade and order numbers
        replaced by this order's (the paid event names its trade number); None
        when they name neither (the template's own parameters do)."""
        params = self.events[j].value("params").obj
        swap = {self.payment.value("trade_no"): trade_no, self.order.value("order_no"): order_no}
        if not any(isinstance(v, str) and v in swap for v in params.values()):
            return None
        return Jsonb({k: swap.get(v, v) if isinstance(v, str) else v for k, v in params.items()})


async def make_template(shop: Shop) -> Template:
    """One order with a contact and a query password, created and paid by the app
    (in-process, the real notify path), then read back as the template."""
    pool = make_pool(shop.url, size=1)
    await pool.open()
    transport = httpx.ASGITransport(app=create_app(shop.settings(), pool=pool))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            body = {"product": setup.SKU, "quantity": 1, "gateway": "epay",
                    "contact": "template@scale.example", "query_password": PASSWORD}  # fmt: skip
            r = await http.post("/api/shop/orders", json=body)
            if r.status_code != 201:
                raise RuntimeError(f"template order: {r.status_code} {r.text[:200]}")
            order_no = r.json()["order_no"]
            r = await http.get(f"/notify/epay?{notify_query(shop, order_no)}")
            if r.text != "success":
                raise RuntimeError(f"template notify: {r.status_code} {r.text[:200]}")
    finally:
        await pool.close()
    hashes = [shop.settings().query_passwords().hash(PASSWORD) for _ in range(HASHES)]
    with psycopg.connect(shop.url) as conn:
        order = _read(conn, "orders", "order_no = %s", order_no)
        oid = order.values[order.columns.index("id")]
        if order.values[order.columns.index("status")] != "delivered":
            raise RuntimeError(f"template order not delivered: {order.values}")
        payment = _read(conn, "payments", "order_id = %s", oid)
        key = _read(conn, "card_keys", "order_id = %s", oid)
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM order_events WHERE order_id = %s ORDER BY id", (oid,))]  # fmt: skip
        events = [_read(conn, "order_events", "id = %s", i) for i in ids]
    kinds = [e.values[e.columns.index("type")] for e in events]
    if kinds != ["created", "paid", "delivered"]:
        raise RuntimeError(f"template timeline is {kinds}, the filler expects three events")
    product_id = order.values[order.columns.index("product_id")]
    return Template(product_id, order, payment, events, key, hashes)


def notify_query(shop: Shop, order_no: str, trade_no: str | None = None) -> str:
    """The query string of epay's paid notify for this order, signed."""
    from urllib.parse import urlencode

    params = {
        "pid": shop.env["KAMENG_EPAY_PID"],
        "trade_no": trade_no or f"2026{order_no}",
        "out_trade_no": order_no,
        "type": "alipay",
        "name": setup.PRODUCT_NAME,
        "money": format_yuan(setup.PRICE_CENTS).rstrip("0").rstrip("."),  # PHP-style, as epay
        "trade_status": "TRADE_SUCCESS",
    }
    params["sign"] = epay_sign.sign(params, shop.env["KAMENG_EPAY_KEY"])
    params["sign_type"] = "MD5"
    return urlencode(params)


def _read(conn: psycopg.Connection[Any], table: str, where: str, value: Any) -> Table:
    cur = conn.execute(f"SELECT * FROM {table} WHERE {where}", (value,))
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"template: no {table} row where {where} ({value})")
    columns = [d.name for d in cur.description or []]
    values = [Jsonb(v) if isinstance(v, (dict, list)) else v for v in row]
    return Table(columns, values)


UNPAID_BASE = 10**12  # unpaid orders' indexes, apart from delivered ones


@dataclass
class Filled:
    """Where the filled rows are, for the phases that read them."""

    delivered: int = 0  # delivered orders filled so far: order indexes [0, delivered)
    in_stock: int = 0  # available keys filled so far
    unpaid_from: int = UNPAID_BASE  # index of the next unpaid order
    unpaid: list[str] = field(default_factory=list)  # the last step's unpaid order numbers
    seconds: float = 0.0  # time of the last step (COPY, then VACUUM ANALYZE)
    rows: int = 0  # rows written by the last step


@dataclass(frozen=True)
class _Step:
    """The ids and ranges one fill step writes; every row is a function of its index."""

    template: Template
    cipher: CardKeyCipher
    now: datetime
    first: int  # delivered order indexes [first, last)
    last: int
    order_id: int  # first new id of each table
    event_id: int
    payment_id: int
    key_id: int
    pool_seq: int

    def created(self, i: int) -> datetime:
        return self.now - SPACING * (i + 1)

    def paid(self, i: int) -> datetime:
        return self.created(i) + timedelta(seconds=40)

    def order(self, i: int) -> list[Any]:
        created, paid = self.created(i), self.paid(i)
        return self.template.order.row(
            id=self.order_id + i - self.first,
            order_no=order_no_of(i),
            contact=contact_of(i),
            query_password_hash=self.template.password_hashes[i % HASHES],
            created_at=created,
            expires_at=created + timedelta(minutes=15),
            paid_at=paid,
            delivered_at=paid,
            updated_at=paid,
        )

    def payment(self, i: int) -> list[Any]:
        n, paid = i - self.first, self.paid(i)
        return self.template.payment.row(
            id=self.payment_id + n,
            order_id=self.order_id + n,
            trade_no=trade_no_of(i, paid),
            received_at=paid,
        )

    def events(self, i: int) -> Iterator[list[Any]]:
        n, created, paid = i - self.first, self.created(i), self.paid(i)
        trade_no, order_no, template = trade_no_of(i, paid), order_no_of(i), self.template
        for j, (event, at) in enumerate(zip(template.events, (created, paid, paid), strict=True)):
            changes = {"id": self.event_id + 3 * n + j, "order_id": self.order_id + n,
                       "created_at": at}  # fmt: skip
            params = template.event_params(j, trade_no=trade_no, order_no=order_no)
            if params is not None:
                changes["params"] = params
            yield event.row(**changes)

    def sold_key(self, i: int) -> list[Any]:
        n, number = i - self.first, sold_card_of(i)
        fp = self.cipher.fingerprint(number)
        secret = self.cipher.seal(
            number, f"P{i:011d}", product_id=self.template.product_id, fingerprint=fp
        )
        return self.template.key.row(
            id=self.key_id + n,
            pool_seq=self.pool_seq + n,
            fingerprint=fp,
            secret=secret,
            order_id=self.order_id + n,
            created_at=self.created(i),
            sold_at=self.paid(i),
        )

    def unpaid_order(self, n: int, index: int) -> list[Any]:
        return self.template.order.row(
            id=self.order_id + (self.last - self.first) + n,
            order_no=order_no_of(index),
            contact=contact_of(index),
            query_password_hash=self.template.password_hashes[n % HASHES],
            status="unpaid",
            delivered_quantity=0,
            created_at=self.now,
            expires_at=self.now + timedelta(hours=2),
            paid_at=None,
            delivered_at=None,
            updated_at=self.now,
        )

    def unpaid_event(self, n: int) -> list[Any]:
        made = self.last - self.first
        return self.template.events[0].row(
            id=self.event_id + 3 * made + n, order_id=self.order_id + made + n, created_at=self.now
        )

    def available_key(self, n: int, i: int) -> list[Any]:
        number = f"AVX{i:09d}Q"
        fp = self.cipher.fingerprint(number)
        secret = self.cipher.seal(
            number, f"Q{i:011d}", product_id=self.template.product_id, fingerprint=fp
        )
        made = self.last - self.first
        return self.template.key.row(
            id=self.key_id + made + n,
            pool_seq=self.pool_seq + made + n,
            status="available",
            fingerprint=fp,
            secret=secret,
            order_id=None,
            slot=None,
            created_at=self.now,
            sold_at=None,
        )


def fill(
    shop: Shop, template: Template, filled: Filled, *, delivered: int, unpaid: int, in_stock: int
) -> None:
    """Add delivered orders up to ``delivered`` in all, ``unpaid`` new unpaid orders
    and available keys up to ``in_stock`` in all: one transaction, then VACUUM
    ANALYZE. Each COPY generates its rows as it sends them (memory stays flat)."""
    started = time.perf_counter()
    created_at = template.order.values[template.order.columns.index("created_at")]
    with psycopg.connect(shop.url) as conn:
        replica = triggers_off(conn)
        step = _Step(
            template, shop.settings().card_key_cipher(), datetime.now(created_at.tzinfo),
            filled.delivered, max(delivered, filled.delivered),
            _next_id(conn, "orders"), _next_id(conn, "order_events"),
            _next_id(conn, "payments"), _next_id(conn, "card_keys"),
            int(conn.execute("SELECT nextval('card_key_pool_seq')").fetchone()[0]),  # type: ignore[index]
        )  # fmt: skip
        sold = range(step.first, step.last)
        new_unpaid = list(enumerate(range(filled.unpaid_from, filled.unpaid_from + unpaid)))
        stock = enumerate(range(filled.in_stock, max(in_stock, filled.in_stock)))  # (one pass)
        t = template
        rows = _copy(
            conn,
            "orders",
            t.order.columns,
            itertools.chain(
                map(step.order, sold), (step.unpaid_order(n, i) for n, i in new_unpaid)
            ),
        )
        rows += _copy(conn, "payments", t.payment.columns, map(step.payment, sold))
        rows += _copy(
            conn,
            "order_events",
            t.events[0].columns,
            itertools.chain(
                (e for i in sold for e in step.events(i)),
                (step.unpaid_event(n) for n, _ in new_unpaid),
            ),
        )
        rows += _copy(conn, "card_keys", t.key.columns, itertools.chain(
            map(step.sold_key, sold), (step.available_key(n, i) for n, i in stock)))  # fmt: skip
        for table in ("orders", "order_events", "payments", "card_keys"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.execute("SELECT setval('card_key_pool_seq', (SELECT max(pool_seq) FROM card_keys))")
        if replica:
            conn.execute("RESET session_replication_role")
        else:
            conn.execute("ALTER TABLE order_events ENABLE TRIGGER order_events_notify")
        conn.commit()
    setup.settle(shop.url)
    filled.delivered, filled.in_stock = step.last, max(in_stock, filled.in_stock)
    filled.unpaid = [order_no_of(i) for _, i in new_unpaid]
    filled.unpaid_from += unpaid
    filled.seconds, filled.rows = time.perf_counter() - started, rows


def triggers_off(conn: psycopg.Connection[Any]) -> bool:
    """No trigger fires for this session's rows: the foreign-key checks (one index
    probe per row, a large part of the COPY time; the rows are consistent by
    construction) and the events' NOTIFY (nobody listens while filling). Needs a
    superuser (the embedded server, the usual DATABASE_URL); otherwise only the
    NOTIFY trigger is turned off, in the fill's transaction. True: the former."""
    try:
        conn.execute("SET session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        conn.rollback()
        conn.execute("ALTER TABLE order_events DISABLE TRIGGER order_events_notify")
        return False
    return True


def _next_id(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def _copy(conn: psycopg.Connection[Any], table: str, columns: Sequence[str], rows: Any) -> int:
    n, started = 0, time.perf_counter()
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with conn.cursor() as cur:
        cur.execute(f"SELECT {', '.join(columns)} FROM {table} LIMIT 0")
        types = [d.type_code for d in cur.description or []]
        with cur.copy(sql) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
                n += 1
    log(f"  COPY {table}: {n:,} rows in {time.perf_counter() - started:.1f}s")
    return n
