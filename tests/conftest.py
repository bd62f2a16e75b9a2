"""Test fixtures: a real PostgreSQL, a fresh database per run, real HTTP apps.

The server is the one in DATABASE_URL when set, otherwise the embedded one
(under var/pg-test). Each run creates its own database and drops it at the end,
so the suite never touches data it did not create.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kameng.config import PROJECT_ROOT, Settings
from kameng.db.embedded import resolve_database_url
from kameng.db.engine import libpq_url, make_engine, make_sessionmaker
from kameng.db.migrate import upgrade
from kameng.kit import clock as clock_module
from kameng.kit.clock import FrozenClock

TABLES = (
    "notify_nonces, payment_notifies, payments, card_keys, order_events, orders, products, "
    "procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs"
)


def _with_database(url: str, name: str) -> str:
    """Same server, another database name (URL with or without ?host=)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(libpq_url(url))
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url, server = resolve_database_url(
        os.environ.get("DATABASE_URL"), PROJECT_ROOT / "var" / "test"
    )
    yield url
    del server  # the embedded server stops when the last handle goes


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    name = f"kameng_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    upgrade(url)
    yield url
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key",
        data_dir=Path(PROJECT_ROOT / "var" / "test"),
        epay_url="http://epay.sandbox.test/",
        epay_pid="1001",
        epay_key="test-merchant-key",
    )


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url, pool_size=40)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
def db(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> async_sessionmaker[AsyncSession]:
    """Empty tables before the test; returns the session factory."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    return sessions


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    previous = clock_module.set_clock(frozen)
    yield frozen
    clock_module.set_clock(previous)


@pytest.fixture(scope="session")
async def job_app(database_url: str) -> AsyncIterator[Any]:
    from kameng.worker.app import app, close_app, open_app

    pool = await open_app(database_url)
    yield app
    await close_app(pool)


@pytest.fixture
def run_jobs(job_app: Any) -> Any:
    """Run every job that is due, then return (the worker as `make run` runs it)."""

    async def run() -> None:
        await job_app.run_worker_async(
            wait=False, install_signal_handlers=False, listen_notify=False
        )

    return run


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[Any]:
    """The psycopg pool the shop's request path runs on."""
    from kameng.db.connection import make_pool

    shop_pool = make_pool(database_url, size=30)
    await shop_pool.open()
    yield shop_pool
    await shop_pool.close()


@pytest.fixture
async def client(
    db: async_sessionmaker[AsyncSession], settings: Settings, pool: Any
) -> AsyncIterator[Any]:
    """The web app in-process over real HTTP semantics (httpx ASGI transport)."""
    import httpx

    from kameng.web.app import create_app

    app = create_app(settings, pool=pool)
    # Errors reach the client as responses, as they would over a socket.
    transport = httpx.ASGITransport(
        app=app, client=("127.0.0.1", 40000), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as c:
        yield c
