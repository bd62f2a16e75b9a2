"""The database sessions jobs use, set once per worker process."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_sessions: async_sessionmaker[AsyncSession] | None = None


def set_sessions(factory: async_sessionmaker[AsyncSession]) -> None:
    global _sessions
    _sessions = factory


def sessions() -> async_sessionmaker[AsyncSession]:
    if _sessions is None:
        raise RuntimeError("worker sessions not configured (call set_sessions at start)")
    return _sessions
