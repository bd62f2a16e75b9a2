"""The app's own SQL, captured from the app's own code, for the raw-SQL runs.

Nothing here is copied by hand: the real service functions (``create_order``,
``handle_notify`` with the real epay adapter, the card-key strategy) run once,
inside the app's own ``kameng.db.connection.transaction`` helper, against a
recording fake psycopg ``AsyncConnection`` that answers like the database
would. That yields the exact statements, in the exact order, with the exact
parameter names the app sends, which of their results the app reads, and
the transaction shape (connection, transaction). The bench then replays them through bare psycopg in
the same shape. If the app's transactions change shape, the checks here fail
loudly instead of letting the raw side drift from what the app does;
``benchlib.wire`` then checks the real protocol traffic of both sides.

The SQL is psycopg ``%(name)s`` style already and is replayed byte for byte;
parameter names are read the way psycopg reads them (``%%`` is a literal ``%``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from kameng.db.connection import transaction
from kameng.orders import service as orders_service
from kameng.payments import service as payments_service
from kameng.payments.gateways import epay_sign
from kameng.payments.gateways.base import InboundNotify
from kameng.payments.gateways.epay_v1 import EpayV1Gateway

# psycopg._queries._re_placeholder: "%" then "(name)" + one format char, or any one char.
_PLACEHOLDER = re.compile(r"%(?:\(([^)]+)\)(.)|(.))", re.DOTALL)

_SKU = "CAPTURE-1"
_ORDER_NO = "1000000000000009"

# How the app consumed a statement's result ("-": never read, e.g. the notify log).
NOT_READ = "-"


def param_names(sql: str) -> frozenset[str]:
    """The ``%(name)s`` parameters of a psycopg query; rejects what psycopg rejects."""
    names = set()
    for m in _PLACEHOLDER.finditer(sql):
        name, fmt, other = m.groups()
        if name is not None:
            if fmt not in "sbt":
                raise ValueError(f"bad placeholder %({name}){fmt} in {sql!r}")
            names.add(name)
        elif other != "%":
            raise ValueError(f"positional or bad placeholder %{other} in {sql!r}")
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class Statement:
    kind: str
    sql: str  # exactly as the app sends it (psycopg style)
    param_names: frozenset[str]
    read: str  # "fetchone", "fetchall", "rowcount" or NOT_READ


@dataclass
class _Recorded:
    kind: str
    sql: str
    params: dict[str, Any]
    options: dict[str, Any]
    reads: list[str] = field(default_factory=list)


class _Cursor:
    def __init__(self, record: _Recorded, rows: list[tuple[Any, ...]]) -> None:
        self._record = record
        self._rows = rows

    @property
    def rowcount(self) -> int:
        self._record.reads.append("rowcount")
        return len(self._rows) if self._rows else 1

    async def fetchone(self) -> tuple[Any, ...] | None:
        self._record.reads.append("fetchone")
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[tuple[Any, ...]]:
        self._record.reads.append("fetchall")
        return list(self._rows)


def _order_row(status: str) -> tuple[Any, ...]:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    # The 18 columns of orders.repository._SELECT_ORDER.
    return (
        1, _ORDER_NO, 1, _SKU, "capture", "card_key", 1, 1000, 1000, None, None, "epay",
        status, 0, now, now + timedelta(minutes=15), None, None,
    )  # fmt: skip


def _classify(sql: str) -> str:
    s = " ".join(sql.split())
    if s.startswith("SELECT") and "FROM products WHERE sku" in s:
        return "product_by_sku"
    if "INSERT INTO orders" in s:
        return "insert_order"
    if "FOR UPDATE OF o" in s and "o.order_no = %(n)s" in s:
        return "lock_order"
    if s.startswith("INSERT INTO payments"):
        return "insert_payment"
    if "UPDATE orders SET status" in s:
        m = re.search(r"(paid_at|delivered_at) = COALESCE", s)
        return f"transition:{m.group(1) if m else '?'}"
    if "UPDATE card_keys" in s and "FOR UPDATE SKIP LOCKED" in s:
        return "claim_keys"
    if s.startswith("INSERT INTO payment_notifies"):
        return "record_notify"
    return "unknown"


class RecordingConnection:
    """Stands in for a psycopg AsyncConnection: records every statement, every read
    of a result and every context entered; answers like PostgreSQL would."""

    def __init__(self) -> None:
        self.recorded: list[_Recorded] = []
        self.contexts: list[str] = []  # "connection", "pipeline", "transaction", in order

    async def execute(
        self, query: Any, params: Mapping[str, Any] | None = None, **options: Any
    ) -> _Cursor:
        if not isinstance(query, str):
            raise TypeError(f"the bench replays str SQL only, the app sent {type(query)}")
        kind = _classify(query)
        record = _Recorded(kind, query, dict(params or {}), options)
        self.recorded.append(record)
        rows: list[tuple[Any, ...]] = []
        if kind == "product_by_sku":
            rows = [(1, _SKU, "capture", "card_key", 1000, 10, "")]
        elif kind in ("insert_order", "insert_payment", "claim_keys") or kind.startswith(
            "transition:"
        ):
            rows = [(1,)]  # RETURNING id / order_id
        elif kind == "lock_order":
            rows = [_order_row("unpaid")]
        return _Cursor(record, rows)

    @asynccontextmanager
    async def pipeline(self) -> AsyncIterator[None]:
        self.contexts.append("pipeline")
        yield

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.contexts.append("transaction")
        yield


class _RecordingPool:
    """What ``kameng.db.connection.transaction`` needs of a pool."""

    def __init__(self, conn: RecordingConnection) -> None:
        self._conn = conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[RecordingConnection]:
        self._conn.contexts.append("connection")
        yield self._conn


def _statements(recorded: list[_Recorded]) -> list[Statement]:
    out = []
    for r in recorded:
        names = param_names(r.sql)
        # psycopg sends only the parameters the SQL names; extra keys are ignored.
        if not names <= frozenset(r.params):
            raise RuntimeError(
                f"{r.kind}: SQL names {sorted(names)} but app passes {sorted(r.params)}"
            )
        if r.options:
            raise RuntimeError(f"{r.kind}: app passes execute options {r.options}; replay them")
        if len(r.reads) > 1:
            raise RuntimeError(f"{r.kind}: app reads the result {len(r.reads)} times: {r.reads}")
        out.append(Statement(r.kind, r.sql, names, r.reads[0] if r.reads else NOT_READ))
    return out


# What the raw side (benchlib.raw_sql) replays: statement kind and how its result is read.
CREATE_SEQUENCE = [("product_by_sku", "fetchone"), ("insert_order", "fetchone")]
NOTIFY_SEQUENCE = [
    ("lock_order", "fetchone"),
    ("insert_payment", "fetchone"),
    ("transition:paid_at", "fetchone"),
    ("claim_keys", "fetchall"),
    ("transition:delivered_at", "fetchone"),
    ("record_notify", NOT_READ),
]
# One pooled connection, one psycopg transaction (raw: no pool).
TRANSACTION_SHAPE = ["connection", "transaction"]


@dataclass(frozen=True, slots=True)
class AppSql:
    create: list[Statement]
    notify: list[Statement]
    shape: list[str]

    def by_kind(self, kind: str) -> Statement:
        for st in (*self.create, *self.notify):
            if st.kind == kind:
                return st
        raise KeyError(kind)


async def _capture() -> AppSql:
    conn = RecordingConnection()
    async with transaction(cast(Any, _RecordingPool(conn))) as c:
        await orders_service.create_order(
            c,
            sku=_SKU,
            quantity=1,
            contact=None,
            query_password=None,
            gateway="epay",
            known_gateways=["epay"],
            ttl=timedelta(minutes=15),
            now=datetime.now(UTC),
        )
    create, create_shape = _statements(conn.recorded), conn.contexts

    key = "capture-key"
    gateway = EpayV1Gateway(name="epay", base_url="http://x/", pid="1001", key=key)
    params = {
        "money": "10",
        "name": "capture",
        "out_trade_no": _ORDER_NO,
        "pid": "1001",
        "trade_no": f"2026{_ORDER_NO}",
        "trade_status": "TRADE_SUCCESS",
        "type": "alipay",
    }
    params["sign"] = epay_sign.sign(params, key)
    params["sign_type"] = "MD5"
    conn = RecordingConnection()
    async with transaction(cast(Any, _RecordingPool(conn))) as c:
        outcome = await payments_service.handle_notify(
            c,
            gateway_name="epay",
            gateway=gateway,
            raw=InboundNotify(
                method="GET", raw_query="q", remote_addr="127.0.0.1", query=tuple(params.items())
            ),
            now=datetime.now(UTC),
        )
    if outcome.verdict != "accepted":
        raise RuntimeError(f"captured notify was judged {outcome.verdict}: {outcome.detail}")
    notify, notify_shape = _statements(conn.recorded), conn.contexts

    got_create = [(s.kind, s.read) for s in create]
    got_notify = [(s.kind, s.read) for s in notify]
    if (
        got_create != CREATE_SEQUENCE
        or got_notify != NOTIFY_SEQUENCE
        or create_shape != TRANSACTION_SHAPE
        or notify_shape != TRANSACTION_SHAPE
    ):
        raise RuntimeError(
            "the app's transactions changed shape; update scripts/benchlib/raw_sql.py:\n"
            f"  create: {got_create} in {create_shape}\n"
            f"    (bench knows {CREATE_SEQUENCE} in {TRANSACTION_SHAPE})\n"
            f"  notify: {got_notify} in {notify_shape}\n"
            f"    (bench knows {NOTIFY_SEQUENCE} in {TRANSACTION_SHAPE})"
        )
    return AppSql(create=create, notify=notify, shape=create_shape)


def capture_app_sql() -> AppSql:
    """Run the app's services against a recording connection (call outside an event loop)."""
    return asyncio.run(_capture())
