"""The reference side of the bench: the app's own statements, captured and replayed.

Capture: the real app (``create_app``) serves one request of each measured kind
in-process, on a one-connection pool whose cursors record every statement
psycopg executes (SQL text, parameters, rows returned). Nothing is written by
hand, so the reference cannot drift from the app: whatever the app sends today
is what gets replayed.

Replay: the recorded statements of one request, in one transaction, on a bare
psycopg connection (same connection options, same prepare threshold), with
per-order values swapped for fresh ones: the order number (also inside other
strings, e.g. the trade number and the raw notify), ids that the app read from
a previous statement (learned from the rows the replay gets back), and
timestamps shifted to now. A replay that gets a different number of rows than
the app got fails, so a replay that silently does less work is impossible.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from kameng.db.engine import CONNECT_OPTIONS, libpq_url

# Ids the app creates during capture are pushed above this, each table's in its own
# range (``distinct_ids``), so a captured integer at or above it is one table's id,
# never a price, a quantity or another table's id by chance.
ID_FLOOR = 10_000_000
ID_RANGE = 10_000_000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    params: Any
    rows: list[tuple[Any, ...]] | None  # None: the statement returns no rows


@dataclass
class Request:
    """The statements of one HTTP request, captured at ``at``."""

    statements: list[Statement] = field(default_factory=list)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class _Recording:
    current: Request | None = None


class RecordingCursor(psycopg.AsyncCursor[Any]):
    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> RecordingCursor:
        await super().execute(query, params, **kwargs)
        request = _Recording.current
        if request is None:
            return self
        sql = query if isinstance(query, str) else query.as_string(self.connection)
        # The payment-channel refresh is the process's cache keeping up with the
        # table (LISTEN-driven, at most one read a second), not the request's work.
        if "payment_channels" not in sql:
            rows = None
            if self.description is not None:  # read the rows, then rewind for the app
                factory = self.row_factory
                self.row_factory = tuple_row
                rows = await self.fetchall()
                if rows:  # (no row: nothing to rewind; scroll(0) would be out of bounds)
                    await self.scroll(0, mode="absolute")
                self.row_factory = factory
            request.statements.append(Statement(sql, params, rows))
        return self


async def capture(run: Callable[[], Awaitable[T]]) -> tuple[Request, T]:
    """The statements ``run`` (one app request) sends, and what it returned."""
    request = Request()
    _Recording.current = request
    try:
        result = await run()
    finally:
        _Recording.current = None
    if not request.statements:
        raise RuntimeError("captured no statement: is the pool recording?")
    return request, result


async def record_on(pool: AsyncConnectionPool[Any]) -> None:
    """Every cursor of the pool's (single) connection records from now on."""
    async with pool.connection() as conn:
        conn.cursor_factory = RecordingCursor


def distinct_ids(url: str) -> None:
    """Every sequence continues in its own range above ID_FLOOR (see there)."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        seqs = conn.execute(
            "SELECT schemaname || '.' || sequencename FROM pg_sequences WHERE schemaname = 'public'"
        ).fetchall()
        for i, (seq,) in enumerate(seqs):
            conn.execute("SELECT setval(%s, %s)", (seq, ID_FLOOR + i * ID_RANGE))


class ReplayMismatch(Exception):
    pass


def _swap(value: Any, mapping: dict[Any, Any], shift: timedelta) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return mapping.get(value, value)
    if isinstance(value, str):
        new = value
        for old, fresh in mapping.items():
            if isinstance(old, str) and old in new:
                new = new.replace(old, fresh)
            elif type(old) is int and old >= ID_FLOOR and str(old) in new:
                # an id inside a string, e.g. a job's queueing lock "query-order:<id>:later"
                new = new.replace(str(old), str(fresh))
        return value if new == value else new  # keeps StrEnum members as they are
    if isinstance(value, datetime):
        return value + shift
    if isinstance(value, Jsonb):
        return Jsonb(_swap(value.obj, mapping, shift))
    if isinstance(value, dict):
        return {k: _swap(v, mapping, shift) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_swap(v, mapping, shift) for v in value)
    return value


def _learn(
    app_rows: list[tuple[Any, ...]], got: list[tuple[Any, ...]], mapping: dict[Any, Any]
) -> None:
    for app_row, row in zip(app_rows, got, strict=True):
        for app_value, value in zip(app_row, row, strict=True):
            if type(app_value) is int and app_value >= ID_FLOOR and app_value != value:
                mapping[app_value] = value


async def replay(
    conn: psycopg.AsyncConnection[Any], request: Request, mapping: dict[Any, Any]
) -> list[list[tuple[Any, ...]]]:
    """Run the captured request again in one transaction; returns the rows read."""
    mapping = dict(mapping)
    shift = datetime.now(UTC) - request.at
    results = []
    async with conn.transaction():
        for st in request.statements:
            cur = await conn.execute(st.sql, _swap(st.params, mapping, shift))
            if st.rows is None:
                continue
            got = await cur.fetchall()
            if len(got) != len(st.rows):
                raise ReplayMismatch(
                    f"{len(got)} rows where the app got {len(st.rows)}: {st.sql[:80]!r}"
                )
            _learn(st.rows, got, mapping)
            results.append(got)
    return results


async def connect(url: str) -> psycopg.AsyncConnection[Any]:
    """A bare connection with the app's connection options."""
    return await psycopg.AsyncConnection.connect(libpq_url(url), options=CONNECT_OPTIONS)
