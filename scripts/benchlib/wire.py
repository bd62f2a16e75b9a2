"""What goes over the wire: the app's transactions vs the raw replay, per libpq trace.

Before the measured phases, one order is created and paid through the real app
(its FastAPI app in-process over ASGI, on a one-connection pool made by the
app's own ``make_pool``), and one through ``RawShop``, each with libpq's
protocol trace on (``PQtrace``). The frontend messages must be the same: same
statements (Parse text and parameter type OIDs), same Bind/Execute/Sync/Flush
sequence, hence the same round trips. A round trip is counted each time the
client stops sending and reads (a run of frontend messages followed by backend
messages). The counts go into the report; any difference fails the bench.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass

import httpx
from psycopg import pq

from benchlib import http_client, raw_sql
from benchlib.http_client import Order
from benchlib.raw_sql import NotifyItem, RawShop
from kameng.config import Settings
from kameng.db.connection import Conn, make_pool
from kameng.web.app import create_app

_MESSAGE = re.compile(r"^([FB])\t\d+\t(\w+)\t?(.*)$", re.DOTALL)
_BIND_TARGET = re.compile(r'^ "([^"]*)" "([^"]*)"')


@dataclass(frozen=True, slots=True)
class WireTrace:
    frontend: list[str]  # what the client sent, parameter values dropped
    round_trips: int
    executes: int  # statements run, BEGIN and COMMIT included
    syncs: int

    def summary(self) -> dict[str, int]:
        return {"round_trips": self.round_trips, "executes": self.executes, "syncs": self.syncs}


def parse_trace(text: str) -> WireTrace:
    messages: list[tuple[str, str, str]] = []
    for line in text.splitlines():
        m = _MESSAGE.match(line)
        if m:
            messages.append((m.group(1), m.group(2), m.group(3)))
        elif messages:  # a newline inside SQL text: libpq prints it as is
            d, kind, rest = messages[-1]
            messages[-1] = (d, kind, rest + "\n" + line)
    frontend: list[str] = []
    round_trips = 0
    previous = ""
    for direction, kind, rest in messages:
        if direction == "B" and previous == "F":
            round_trips += 1
        previous = direction
        if direction != "F":
            continue
        if kind == "Bind":  # keep portal and statement names, drop the values
            target = _BIND_TARGET.match(rest)
            frontend.append(f"Bind {target.group(0) if target else '?'}")
        elif kind == "Flush" and frontend and frontend[-1] == "Sync":
            # psycopg adds it when the Sync's results had not arrived yet: timing, no cost
            continue
        else:
            frontend.append(f"{kind}{rest}")
    return WireTrace(
        frontend=frontend,
        round_trips=round_trips,
        executes=sum(1 for f in frontend if f.startswith(("Execute", "Query"))),
        syncs=sum(1 for f in frontend if f == "Sync"),
    )


class _Tracer:
    """libpq protocol trace of one connection into a temporary file."""

    def __init__(self, conn: Conn) -> None:
        self._pgconn = conn.pgconn
        self._file = tempfile.NamedTemporaryFile(prefix="kameng-bench-pqtrace-")  # noqa: SIM115

    def __enter__(self) -> _Tracer:
        self._pgconn.trace(self._file.fileno())
        self._pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        return self

    def __exit__(self, *_: object) -> None:
        self._pgconn.untrace()  # flushes libpq's stream

    def result(self) -> WireTrace:
        with self._file as f, open(f.name, encoding="utf-8", errors="replace") as text:
            return parse_trace(text.read())


@dataclass(frozen=True, slots=True)
class WireReport:
    create: WireTrace
    notify: WireTrace


async def _app_side(url: str, settings: Settings) -> tuple[WireTrace, WireTrace]:
    pool = make_pool(url, size=1)
    await pool.open()
    try:
        async with pool.connection() as c:
            conn = c  # a one-connection pool hands out this connection every time
        app = create_app(settings, pool=pool)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            with _Tracer(conn) as create:
                order = await http_client.create_order(http)
            with _Tracer(conn) as notify:
                await http_client.notify(http, http_client.notify_target(settings, order))
        return create.result(), notify.result()
    finally:
        await pool.close()


async def _raw_side(url: str, settings: Settings, shop: RawShop) -> tuple[WireTrace, WireTrace]:
    (conn,) = await raw_sql.connect(url, 1)
    try:
        with _Tracer(conn) as create:
            order = await shop.create(conn)
        order = Order(order.order_no, order.amount_cents)
        with _Tracer(conn) as notify:
            await shop.notify(conn, NotifyItem(order, http_client.notify_query(settings, order)))
        return create.result(), notify.result()
    finally:
        await conn.close()


def _first_difference(app: list[str], raw: list[str]) -> str:
    for i, (a, r) in enumerate(zip(app, raw, strict=False)):
        if a != r:
            return f"message {i}: app {a!r}\n    raw {r!r}"
    longer, who = (app, "app") if len(app) > len(raw) else (raw, "raw")
    extra = longer[min(len(app), len(raw)) :]
    return f"app sent {len(app)} messages, raw {len(raw)}; {who} also sent {extra}"


async def check(url: str, settings: Settings, shop: RawShop) -> WireReport:
    """Trace one create and one paid notify on each side; raise if they differ."""
    app_create, app_notify = await _app_side(url, settings)
    raw_create, raw_notify = await _raw_side(url, settings, shop)
    for name, app, raw in (("create", app_create, raw_create), ("notify", app_notify, raw_notify)):
        if app.frontend != raw.frontend or app.round_trips != raw.round_trips:
            difference = _first_difference(app.frontend, raw.frontend)
            raise RuntimeError(
                f"{name}: the raw replay differs on the wire from the app "
                f"({app.round_trips} vs {raw.round_trips} round trips); "
                f"update scripts/benchlib/raw_sql.py:\n  {difference}"
            )
    return WireReport(create=app_create, notify=app_notify)
