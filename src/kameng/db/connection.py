"""The connection the request and job paths use: psycopg 3, no ORM.

Measured (scripts/bench.py): an SQLAlchemy session costs ~0.3 ms of CPU per
transaction and ~0.1-0.15 ms per statement on top of psycopg, more than
PostgreSQL itself spends on our hot paths. ORM models still define the schema
(Alembic); the code that runs per order talks to psycopg directly, each
request or job in one transaction on one pooled connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool

from kameng.db.engine import CONNECT_OPTIONS, libpq_url
from kameng.db.rows import typed_row

T = TypeVar("T")

Conn = psycopg.AsyncConnection[Any]


async def autocommit(conn: Conn) -> None:
    """A pool's ``configure``: the connection in autocommit mode. ``transaction()``
    still wraps its block in BEGIN … COMMIT; ``single_statements()`` can then skip
    both round trips where one statement is the whole unit of work (or a read).
    (Not through the pool's ``kwargs``: procrastinate opens its listener with those
    and its own ``autocommit=True``.)"""
    await conn.set_autocommit(True)


def make_pool(
    database_url: str, *, size: int, autocommit_mode: bool = False
) -> AsyncConnectionPool[Conn]:
    """A fixed-size pool (min = max): connections are never churned under load.
    The web's pools are in autocommit mode (``autocommit``); the worker's pool,
    which procrastinate shares, stays as procrastinate expects it."""
    return AsyncConnectionPool(
        libpq_url(database_url),
        min_size=size,
        max_size=size,
        open=False,
        kwargs={"options": CONNECT_OPTIONS},
        configure=autocommit if autocommit_mode else None,
        name="kameng",
    )


@asynccontextmanager
async def transaction(pool: AsyncConnectionPool[Conn]) -> AsyncIterator[Conn]:
    """One transaction: committed when the block ends, rolled back on any error.

    Plain mode, not pipeline mode: measured with psycopg 3.3, a transaction
    inside a pipeline adds syncs (6 round trips for a create instead of 4) and
    ~30 % more client CPU.
    """
    async with pool.connection() as conn, conn.transaction():
        yield conn


@asynccontextmanager
async def single_statements(pool: AsyncConnectionPool[Conn]) -> AsyncIterator[Conn]:
    """A pooled connection without BEGIN/COMMIT: each statement commits by itself.

    For reads (at READ COMMITTED every statement of a transaction takes its own
    snapshot anyway, so several reads see no less consistency here) and for a
    write that is one self-contained statement. Never for several writes that
    must stand or fall together: those take ``transaction()``. Saves two of a
    short request's four to six round trips. On a pool not in autocommit mode
    it still works (the pool commits on return), only without the saving.
    """
    async with pool.connection() as conn:
        yield conn


@asynccontextmanager
async def atomic(conn: Conn) -> AsyncIterator[Conn]:
    """Several writes that stand or fall together, on a connection of either kind:
    inside ``transaction()`` they already do (nothing is added: no savepoint round
    trips); on ``single_statements()`` they get their own BEGIN … COMMIT."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        yield conn
        return
    async with conn.transaction():
        yield conn


async def fetch_one_as(
    conn: Conn, row: type[T], sql: str, params: dict[str, Any] | None = None
) -> T | None:
    """First row as a ``row`` (a ``@row_of`` dataclass, mapped by column name) or None."""
    cur = conn.cursor(row_factory=typed_row(row))
    await cur.execute(sql, params)
    return await cur.fetchone()


async def fetch_all_as(
    conn: Conn, row: type[T], sql: str, params: dict[str, Any] | None = None
) -> list[T]:
    cur = conn.cursor(row_factory=typed_row(row))
    await cur.execute(sql, params)
    return await cur.fetchall()


async def fetch_one(conn: Conn, sql: str, params: dict[str, Any] | None = None) -> Any:
    """First row (a tuple) or None: for single values (ids, counts)."""
    cur = await conn.execute(sql, params)
    return await cur.fetchone()


async def fetch_all(conn: Conn, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    cur = await conn.execute(sql, params)
    return await cur.fetchall()


async def execute(conn: Conn, sql: str, params: dict[str, Any] | None = None) -> None:
    """Run a statement whose result nobody needs."""
    await conn.execute(sql, params)
