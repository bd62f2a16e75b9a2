"""Test databases: one server per run, one migrated template per test
process, and a database that every test finds exactly as the template left it.

- The server is the one in DATABASE_URL, or the embedded one under var/test
  (started once; parallel xdist workers take a file lock around the start, so
  they share one server instead of racing to initialise it).
- Each test process (the one pytest process, or each xdist worker) creates a
  template database and runs the Alembic migrations into it once, then takes
  a copy of it (``CREATE DATABASE … TEMPLATE``) that its tests share.
- Before each test that asks for the database, that copy is put back to the
  template's state (``TestDatabases.reset``). A test that needs a database of
  its own gets a fresh copy (``private_database_url``).

Why not a fresh copy per test: measured on this machine (PostgreSQL 15 and
18), a copy costs 60-400 ms, and dropping one forces a checkpoint that costs
0.2-1.5 s on the shared server; the reset costs a few milliseconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from kameng.db.embedded import start_embedded

TEST_DATA_DIR = Path(__file__).resolve().parents[2] / "var" / "test"  # as kameng.config's

# The embedded test server holds nothing worth keeping: trading crash safety
# for speed makes DROP DATABASE (which forces a checkpoint) cheap. These never
# apply to a server given in DATABASE_URL.
_EMBEDDED_TEST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


def libpq_url(url: str) -> str:
    """kameng.db.engine.libpq_url without importing SQLAlchemy (this module is
    loaded by pytest-xdist's controlling process, which needs none of it)."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def with_database(url: str, name: str) -> str:
    """Same server, another database name (URL with or without ?host=)."""
    parts = urlsplit(libpq_url(url))
    return urlunsplit(parts._replace(path="/" + name))


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start_server() -> tuple[str, Any | None]:
    """(admin URL, embedded server handle or None). The handle keeps the
    embedded server up; it stops when the last process holding one exits."""
    explicit = os.environ.get("DATABASE_URL")
    if explicit:
        return libpq_url(explicit), None
    with _file_lock(TEST_DATA_DIR / "embedded-start.lock"):
        url, server = start_embedded(TEST_DATA_DIR / "pg")
        with psycopg.connect(url, autocommit=True) as conn:
            changed = False
            for name, value in _EMBEDDED_TEST_SETTINGS.items():
                current = conn.execute(f"SHOW {name}").fetchone()
                if current is None or current[0] != value:
                    conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                    changed = True
            if changed:
                conn.execute("SELECT pg_reload_conf()")
    return url, server


class TestDatabases:
    """One test process's databases on the server.

    ``template``: migrated once. ``shared``: a copy of it that the tests of
    this process take in turn, put back to the template's state before each
    test by ``reset``. ``private_copy``: a copy for one test alone (for tests
    that leave what a reset should not have to undo, such as a 100,000-key
    pool and its statistics).
    """

    __test__ = False  # a fixture's value, not a test class

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self._prefix = f"{_RUN_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
        self._copies = 0
        self.template = f"{self._prefix}_template"
        self._admin = psycopg.connect(server_url, autocommit=True)
        _drop_abandoned(self._admin)
        self._admin.execute(f'CREATE DATABASE "{self.template}"')
        from kameng.db.migrate import upgrade  # alembic: only when a test needs a database

        upgrade(with_database(server_url, self.template))
        self.shared_url = self.private_copy()
        self._shared_name = _name(self.shared_url)
        self._shared = _connect_for_reset(self.shared_url)
        self._reset_sql = _reset_statement(self._shared)
        # Dropping waits for a checkpoint (up to a second on a busy server):
        # done by a background thread, so no test waits for it.
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-db-drop")

    def private_copy(self) -> str:
        """A new copy of the template (``CREATE DATABASE … TEMPLATE``), as a URL."""
        self._copies += 1
        name = f"{self._prefix}_{self._copies}"
        self._admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return with_database(self.server_url, name)

    def drop_later(self, url: str) -> None:
        self._dropper.submit(_drop, self.server_url, _name(url))

    def reset(self) -> None:
        """Put the shared database back to the template's state: empty every
        table and restart every sequence, in one transaction.

        DELETE, not TRUNCATE: on tables this small it costs a millisecond where
        TRUNCATE (new files for every table and index) costs 60-300 ms here.
        Triggers are skipped (``session_replication_role``): the append-only
        guard on order_events is for the shop, not for throwing a test away.
        A lock left behind by a test makes the reset fail after 10 s, loudly.
        """
        if self._shared.closed or self._shared.broken:
            self._shared = _connect_for_reset(self.shared_url)
        self._shared.execute(self._reset_sql)

    def close(self) -> None:
        self._shared.close()
        self._dropper.shutdown(wait=True)
        for name in (self._shared_name, self.template):
            _drop(self.server_url, name, self._admin)
        self._admin.close()


# Names carry this host's tag and the process id: a run that was killed (no
# teardown) leaves databases that the next run on this host can recognise as
# abandoned, without ever touching another host's or a live process's.
_RUN_PREFIX = f"kameng_test_{hashlib.sha256(socket.gethostname().encode()).hexdigest()[:4]}_"
_ABANDONED = re.compile(re.escape(_RUN_PREFIX) + r"(\d+)_[0-9a-f]{6}_\w+$")


def _drop_abandoned(admin: psycopg.Connection[Any]) -> None:
    """Drop this host's test databases whose process is gone."""
    names = [
        row[0]
        for row in admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (_RUN_PREFIX + "%",)
        ).fetchall()
    ]
    for name in names:
        found = _ABANDONED.match(name)
        if found is None or _alive(int(found.group(1))):
            continue
        with contextlib.suppress(psycopg.Error):  # in use after all, or already gone
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _connect_for_reset(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET lock_timeout = '10s'")
    return conn


def _name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _drop(server_url: str, name: str, conn: psycopg.Connection[Any] | None = None) -> None:
    sql = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    if conn is not None:
        conn.execute(sql)
        return
    with psycopg.connect(server_url, autocommit=True) as own:
        own.execute(sql)


def _reset_statement(conn: psycopg.Connection[Any]) -> str:
    """The SQL that empties every table and restarts every sequence, read from
    the catalogue (no list to keep up to date when a migration adds a table).

    Refuses a template that has rows outside ``alembic_version``: a migration
    that seeds data would be wiped by the reset.
    """
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            " AND tablename <> 'alembic_version' ORDER BY 1"
        ).fetchall()
    ]
    for table in tables:
        if conn.execute(f"SELECT EXISTS (SELECT FROM {table})").fetchone() != (False,):
            raise RuntimeError(
                f"the migrated template has rows in {table}: the per-test reset "
                "(tests/support/databases.py) would delete them; teach it to restore them"
            )
    sequences = conn.execute(
        "SELECT format('%I.%I', schemaname, sequencename), start_value FROM pg_sequences"
        " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
    ).fetchall()
    return "; ".join(
        [
            "SET session_replication_role = replica",
            *(f"DELETE FROM {table}" for table in tables),
            *(f"SELECT setval('{name}', {start}, false)" for name, start in sequences),
            "RESET session_replication_role",
        ]
    )
