"""Test fixtures: a real PostgreSQL, a fresh database per test, real HTTP apps.

The server is the one in DATABASE_URL when set, otherwise the embedded one
(under var/test). Every test that asks for the database (``database_url``,
``db``, ``pool``, ``client``, ...) finds it exactly as the migrations left it
(tests/support/databases.py). Under pytest-xdist each worker has databases of
its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings as hypothesis_settings

from kameng.kit import clock as clock_module
from kameng.kit.clock import FrozenClock
from tests.support.databases import TestDatabases, start_server

# No per-example time limit: on a loaded 2-core CI machine one signed example
# sometimes takes over Hypothesis's 200 ms default (speed lives in make bench).
hypothesis_settings.register_profile("kameng", deadline=None)
hypothesis_settings.load_profile("kameng")

# Imported where used: under pytest-xdist the controlling process loads this
# file too, and needs none of the application to hand out tests.
if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from kameng.config import Settings
    from kameng.db.connection import Conn

# Tests share the server with other test runs: a few connections per test,
# enough for the concurrency tests (50 duplicate notifies, 200 buyers) to
# contend for rows on several connections at once.
POOL_MAX = 6


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url, server = start_server()
    yield url
    del server  # the embedded server stops when the last process holding it exits


@pytest.fixture(scope="session")
def test_databases(server_url: str) -> Iterator[TestDatabases]:
    databases = TestDatabases(server_url)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def shared_database_url(test_databases: TestDatabases) -> str:
    """This process's test database, in whatever state the last test left it:
    tests take ``database_url`` (or a fixture built on it) instead."""
    return test_databases.shared_url


@pytest.fixture
def database_url(test_databases: TestDatabases) -> str:
    """This process's test database, exactly as the migrations left it."""
    test_databases.reset()
    return test_databases.shared_url


@pytest.fixture
def private_database_url(test_databases: TestDatabases) -> Iterator[str]:
    """A migrated database for this test alone, dropped afterwards (for a test
    that fills or changes more than the per-test reset should undo)."""
    url = test_databases.private_copy()
    yield url
    test_databases.drop_later(url)


@pytest.fixture
def settings(database_url: str) -> Settings:
    from kameng.config import PROJECT_ROOT, Settings

    return Settings(
        database_url=database_url,
        secret_key="test-secret-key",
        data_dir=PROJECT_ROOT / "var" / "test",
        epay_url="http://epay.sandbox.test/",
        epay_pid="1001",
        epay_key="test-merchant-key",
        db_pool_size=4,
    )


# Connections live as long as the test process (opening them per test would
# cost more than most tests); the function-scoped fixtures that hand them out
# depend on ``database_url``, so whoever gets one gets a reset database.


@pytest.fixture(scope="session")
async def _engine(shared_database_url: str) -> AsyncIterator[AsyncEngine]:
    from kameng.db.engine import make_engine

    eng = make_engine(shared_database_url, pool_size=2)
    yield eng
    await eng.dispose()


@pytest.fixture
def engine(database_url: str, _engine: AsyncEngine) -> AsyncEngine:
    return _engine


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    from kameng.db.engine import make_sessionmaker

    return make_sessionmaker(engine)


@pytest.fixture
def db(
    sessions: async_sessionmaker[AsyncSession], _pool: AsyncConnectionPool[Conn]
) -> async_sessionmaker[AsyncSession]:
    """This test's empty database, as an SQLAlchemy session factory."""
    return sessions


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    previous = clock_module.set_clock(frozen)
    yield frozen
    clock_module.set_clock(previous)


@pytest.fixture(scope="session")
async def _worker_runtime(shared_database_url: str) -> AsyncIterator[Any]:
    from kameng.payments.gateways.registry import GatewayRegistry
    from kameng.worker.app import close_worker, open_worker

    runtime = await open_worker(shared_database_url, gateways=GatewayRegistry([]), size=3)
    yield runtime
    await close_worker(runtime)


@pytest.fixture
def worker_runtime(database_url: str, _worker_runtime: Any) -> Any:
    """What the worker hands every job (pool, gateways), open on the test database.
    No gateway by default: a test that needs one sets it with monkeypatch."""
    return _worker_runtime


@pytest.fixture
def run_jobs(worker_runtime: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run every job that is due, then return (the worker as `make run` runs it).

    Of the periodic jobs, the worker defers only the minute-by-minute sweeps: an
    hourly or daily one (the 03:20 reconciliation, the hourly purges) would
    otherwise join whichever test happens to run at that wall-clock time and,
    say, call a gateway the test counts calls to. Tests of those jobs run them
    explicitly."""
    from kameng.db.jobs import app

    registry = app.periodic_registry
    every_minute = {
        key: task for key, task in registry.periodic_tasks.items() if task.cron.split() == ["*"] * 5
    }
    monkeypatch.setattr(registry, "periodic_tasks", every_minute)

    async def run() -> None:
        await app.run_worker_async(
            wait=False, install_signal_handlers=False, listen_notify=False,
            **worker_runtime.options(),
        )  # fmt: skip

    return run


@pytest.fixture(scope="session")
async def _pool(shared_database_url: str) -> AsyncIterator[AsyncConnectionPool[Conn]]:
    from psycopg_pool import AsyncConnectionPool

    from kameng.db.connection import autocommit
    from kameng.db.engine import CONNECT_OPTIONS, libpq_url
    from tests.factories import register_pool

    shop_pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
        libpq_url(shared_database_url),
        min_size=1,
        max_size=POOL_MAX,
        open=False,
        kwargs={"options": CONNECT_OPTIONS},
        configure=autocommit,  # as the shop's (see kameng.db.connection.single_statements)
        name="kameng-test",
    )
    await shop_pool.open()
    register_pool(shared_database_url, shop_pool)
    yield shop_pool
    register_pool(shared_database_url, None)
    await shop_pool.close()


@pytest.fixture
def pool(database_url: str, _pool: AsyncConnectionPool[Conn]) -> AsyncConnectionPool[Conn]:
    """A psycopg pool like the shop's request path (kameng.db.connection), but
    growing on demand: most tests need one connection, a few need many."""
    return _pool


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


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    """The environment a ``kameng`` command reads, on the test database, in English."""
    from kameng.config import get_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAMENG_SECRET_KEY", "cli-test-secret-" + "s" * 32)
    monkeypatch.setenv("KAMENG_LANG", "en")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    """``settings`` for a live server: public URL on a free port."""
    from tests.support import live

    return live.live_settings(settings)


@pytest.fixture
def live_shop(live_settings: Settings) -> Iterator[str]:
    """The shop over a real socket (uvicorn in a thread) on this test's
    database; yields its base URL."""
    from tests.support import live

    with live.serve(live_settings) as base:
        yield base
