"""The connection pool jobs use, set once per worker process."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn

_pool: AsyncConnectionPool[Conn] | None = None


def set_pool(pool: AsyncConnectionPool[Conn]) -> None:
    global _pool
    _pool = pool


def pool() -> AsyncConnectionPool[Conn]:
    if _pool is None:
        raise RuntimeError("worker pool not configured (open_app sets it)")
    return _pool
