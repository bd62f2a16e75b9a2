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
from psycopg_pool import AsyncConnectionPool

from kameng.db.engine import CONNECT_OPTIONS, libpq_url
from kameng.db.rows import typed_row

T = TypeVar("T")

Conn = psycopg.AsyncConnection[Any]


def make_pool(database_url: str, *, size: int) -> AsyncConnectionPool[Conn]:
    """A fixed-size pool (min = max): connections are never churned under load."""
    return AsyncConnectionPool(
        libpq_url(database_url),
        min_size=size,
        max_size=size,
        open=False,
        kwargs={"options": CONNECT_OPTIONS},
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
