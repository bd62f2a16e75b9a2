"""SQLAlchemy engine (migrations, demo data, test set-up) and URL helpers.

The request and job paths use psycopg directly: see db/connection.py."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# A forgotten open transaction holds back cleanup of sold keys (their dead
# index entries cannot be skipped while an old snapshot lives): the server
# ends such sessions. Every connection kameng opens, pooled or not, carries this.
CONNECT_OPTIONS = "-c idle_in_transaction_session_timeout=60000"


def sqlalchemy_url(database_url: str) -> str:
    """Any postgres URL -> the psycopg 3 async dialect URL."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {database_url!r}")


def libpq_url(database_url: str) -> str:
    """Any accepted URL -> a plain libpq URL (for psycopg and procrastinate)."""
    return "postgresql://" + sqlalchemy_url(database_url)[len("postgresql+psycopg://") :]


def make_engine(database_url: str, *, pool_size: int = 20) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={"options": CONNECT_OPTIONS},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
