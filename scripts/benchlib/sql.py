"""The app's own SQL, captured from the app's own code, for the raw-SQL runs.

Nothing here is copied by hand: the real service functions (``create_order``,
``handle_notify`` with the real epay adapter, the card-key strategy) run once
against a recording session that answers like the database would. That yields
the exact statements, in the exact order, with the exact parameter names the
app sends; the bench then replays them through bare psycopg. If the app's
transactions change shape, the checks here fail loudly instead of letting the
raw side drift from what the app does.

``:name`` parameters become ``%(name)s`` with SQLAlchemy's own bind regex (and
literal ``%`` doubled), which is what SQLAlchemy's psycopg dialect sends.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from kameng.orders import service as orders_service
from kameng.payments import service as payments_service
from kameng.payments.gateways import epay_sign
from kameng.payments.gateways.epay_v1 import EpayV1Gateway

# sqlalchemy.sql.elements.TextClause._bind_params_regex
_BIND = re.compile(r"(?<![:\w\x5c]):(\w+)(?!:)")

_SKU = "CAPTURE-1"
_ORDER_NO = "1000000000000009"


def to_psycopg(sql: str) -> str:
    """SQLAlchemy ``text()`` SQL -> psycopg pyformat SQL."""
    return _BIND.sub(r"%(\1)s", sql.replace("%", "%%"))


@dataclass(frozen=True, slots=True)
class Statement:
    kind: str
    sql: str  # psycopg form
    param_names: frozenset[str]


class _Result:
    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def scalar_one_or_none(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self._rows[0][0]

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def __iter__(self) -> Any:
        return iter(self._rows)


def _order_row(status: str) -> tuple[Any, ...]:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    # The 18 columns of orders.repository._ORDER_COLUMNS.
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
    if "FOR UPDATE OF o" in s and "o.order_no = :n" in s:
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


class RecordingSession:
    """Stands in for AsyncSession; records every statement, answers like PostgreSQL."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, dict[str, Any]]] = []

    async def execute(self, statement: Any, params: Mapping[str, Any] | None = None) -> _Result:
        sql: str = statement.text
        kind = _classify(sql)
        self.recorded.append((kind, sql, dict(params or {})))
        if kind == "product_by_sku":
            return _Result([(1, _SKU, "capture", "card_key", 1000, 10, "")], 1)
        if kind in ("insert_order", "insert_payment", "claim_keys"):
            return _Result([(1,)], 1)
        if kind == "lock_order":
            return _Result([_order_row("unpaid")], 1)
        return _Result([], 1)


def _statements(recorded: list[tuple[str, str, dict[str, Any]]]) -> list[Statement]:
    out = []
    for kind, sql, params in recorded:
        names = frozenset(_BIND.findall(sql))
        # SQLAlchemy sends only the parameters the SQL binds; extra keys are dropped.
        if not names <= frozenset(params):
            raise RuntimeError(f"{kind}: SQL binds {sorted(names)} but app passes {sorted(params)}")
        out.append(Statement(kind, to_psycopg(sql), names))
    return out


CREATE_SEQUENCE = ["product_by_sku", "insert_order"]
NOTIFY_SEQUENCE = [
    "lock_order",
    "insert_payment",
    "transition:paid_at",
    "claim_keys",
    "transition:delivered_at",
    "record_notify",
]


@dataclass(frozen=True, slots=True)
class AppSql:
    create: list[Statement]
    notify: list[Statement]

    def by_kind(self, kind: str) -> Statement:
        for st in (*self.create, *self.notify):
            if st.kind == kind:
                return st
        raise KeyError(kind)


async def _capture() -> AppSql:
    session = RecordingSession()
    await orders_service.create_order(
        cast(AsyncSession, session),
        sku=_SKU,
        quantity=1,
        contact=None,
        query_password=None,
        gateway="epay",
        known_gateways=["epay"],
        ttl=timedelta(minutes=15),
        now=datetime.now(UTC),
    )
    create = _statements(session.recorded)

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
    session = RecordingSession()
    outcome = await payments_service.handle_notify(
        cast(AsyncSession, session),
        gateway_name="epay",
        gateway=gateway,
        raw=payments_service.RawNotify("GET", "q", "", "127.0.0.1", params),
        now=datetime.now(UTC),
    )
    if outcome.verdict != "accepted":
        raise RuntimeError(f"captured notify was judged {outcome.verdict}: {outcome.detail}")
    notify = _statements(session.recorded)

    got_create = [s.kind for s in create]
    got_notify = [s.kind for s in notify]
    if got_create != CREATE_SEQUENCE or got_notify != NOTIFY_SEQUENCE:
        raise RuntimeError(
            "the app's transactions changed shape; update scripts/benchlib/raw_sql.py:\n"
            f"  create: {got_create} (bench knows {CREATE_SEQUENCE})\n"
            f"  notify: {got_notify} (bench knows {NOTIFY_SEQUENCE})"
        )
    return AppSql(create=create, notify=notify)


def capture_app_sql() -> AppSql:
    """Run the app's services against a recording session (call outside an event loop)."""
    return asyncio.run(_capture())
