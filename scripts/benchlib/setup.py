"""Bench fixtures: a throw-away database, its seed, and the app server process."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import psycopg

from benchlib.load import parent_pid
from kameng.config import PROJECT_ROOT, Settings
from kameng.db.embedded import resolve_database_url
from kameng.db.engine import libpq_url
from kameng.db.migrate import upgrade
from kameng.kit.crypto import CardKeyCipher

SKU = "BENCH-10"
PRICE_CENTS = 1000
PRODUCT_NAME = "游戏点卡 10 元"
SECRET_KEY = "kameng-bench-secret-key"
EPAY_PID = "1001"
EPAY_KEY = "kameng-bench-merchant-key"


def bench_settings(database_url: str) -> Settings:
    """The settings the server runs with (env of the subprocess mirrors them)."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        secret_key=SECRET_KEY,
        card_key_encryption_key=None,
        epay_pid=EPAY_PID,
        epay_key=EPAY_KEY,
    )


def log(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


def with_database(url: str, name: str) -> str:
    """Same server, another database (URLs with ``?host=`` keep their socket)."""
    parts = urlsplit(libpq_url(url))
    return urlunsplit(parts._replace(path="/" + name))


@dataclass
class BenchDatabase:
    server_url: str
    url: str
    name: str
    embedded: bool
    server_version: str
    settings_shown: dict[str, str]


@contextmanager
def bench_database() -> Iterator[BenchDatabase]:
    """A fresh migrated ``kameng_bench_<random>`` database, dropped (FORCE) afterwards."""
    explicit = os.environ.get("DATABASE_URL") or None
    server_url, handle = resolve_database_url(explicit, PROJECT_ROOT / "var")
    name = f"kameng_bench_{secrets.token_hex(4)}"
    admin = libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(server_url, name)
        log(f"database {name} created; migrating")
        upgrade(url)
        shown: dict[str, str] = {}
        with psycopg.connect(url, autocommit=True) as conn:
            version = str(_one(conn, "SHOW server_version"))
            for setting in ("synchronous_commit", "fsync", "shared_buffers", "autovacuum"):
                shown[setting] = str(_one(conn, f"SHOW {setting}"))
        yield BenchDatabase(
            server_url=server_url,
            url=url,
            name=name,
            embedded=handle is not None,
            server_version=version,
            settings_shown=shown,
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"database {name} dropped")
        del handle  # the embedded server stops with its last handle


def _one(conn: psycopg.Connection[Any], sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


def seed(url: str, settings: Settings, keys: int) -> int:
    """One product and ``keys`` real sealed card keys (COPY); returns the product id."""
    started = time.perf_counter()
    cipher = CardKeyCipher(settings.aes_key())
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "INSERT INTO products (sku, name, kind, price_cents, max_quantity, description, "
            "active, created_at) VALUES (%s, %s, 'card_key', %s, 10, '', true, %s) RETURNING id",
            (SKU, PRODUCT_NAME, PRICE_CENTS, now),
        ).fetchone()
        assert row is not None
        product_id = int(row[0])
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY card_keys (product_id, fingerprint, secret, created_at) FROM STDIN"
            ) as copy,
        ):
            for i in range(keys):
                number = f"BK{product_id}-{i:08d}"
                copy.write_row(
                    (product_id, cipher.fingerprint(number), cipher.seal(number, f"PW{i:08d}"), now)
                )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    log(f"seeded 1 product and {keys} sealed card keys in {time.perf_counter() - started:.2f}s")
    return product_id


def settle(url: str) -> None:
    """Same starting line for every measured phase: dead rows vacuumed, stats fresh,
    dirty pages flushed (so a checkpoint does not land inside one phase only)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        # CHECKPOINT needs superuser or pg_checkpoint; without it the bench still runs.
        with contextlib.suppress(psycopg.Error):
            conn.execute("CHECKPOINT")


def local_postmaster(url: str) -> int | None:
    """Pid of the PostgreSQL server when it runs on this machine (its CPU can then be
    read from /proc): the parent of our own backend, checked to be ``postgres``."""
    parts = urlsplit(libpq_url(url))
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    if parts.hostname not in (None, "", "127.0.0.1", "localhost", "::1") and not (
        socket_dir.startswith("/")
    ):
        return None
    with psycopg.connect(url, autocommit=True) as conn:
        ppid = parent_pid(conn.info.backend_pid)
    if ppid is None:
        return None
    try:
        comm = Path(f"/proc/{ppid}/comm").read_text().strip()
    except OSError:
        return None
    return ppid if comm == "postgres" else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AppServer:
    process: subprocess.Popen[bytes]
    base_url: str
    log_file: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 4000) -> str:
        self.log_file.flush()
        return Path(self.log_file.name).read_text(errors="replace")[-chars:]


@contextmanager
def app_server(
    database_url: str,
    *,
    workers: int = 1,
    pool_size: int,
    profile_to: Path | None = None,
) -> Iterator[AppServer]:
    """uvicorn, ``workers`` worker processes, uvloop + httptools, no access log, on
    127.0.0.1:<free port>; each worker's psycopg pool holds ``pool_size`` connections
    (KAMENG_DB_POOL_SIZE).

    With ``profile_to`` the server runs under cProfile (CPU clock) and writes its
    stats there when it stops (one worker only)."""
    if profile_to is not None and workers != 1:
        raise ValueError("the profiled server runs one worker")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAMENG_")}
    env.update(
        DATABASE_URL=database_url,
        KAMENG_SECRET_KEY=SECRET_KEY,
        KAMENG_EPAY_PID=EPAY_PID,
        KAMENG_EPAY_KEY=EPAY_KEY,
        KAMENG_PUBLIC_URL=base_url,
        KAMENG_DB_POOL_SIZE=str(pool_size),
    )
    launcher = [sys.executable, "-m", "uvicorn"]
    if profile_to is not None:
        launcher = [sys.executable, str(Path(__file__).with_name("profiled_server.py")),
                    str(profile_to)]  # fmt: skip
    command = [
        *launcher, "kameng.web.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
        # Idle keep-alive connections stay open between phases (VACUUM, CHECKPOINT).
        "--timeout-keep-alive", "600",
        "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
    ]  # fmt: skip
    with tempfile.NamedTemporaryFile(prefix="kameng-bench-server-", suffix=".log") as log_file:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        server = AppServer(process, base_url, log_file)
        try:
            _wait_ready(server)
            log(f"app server pid {process.pid} answering on {base_url}")
            yield server
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=15)
            log("app server stopped")


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and parent_pid(int(entry.name)) == pid:
            kids.append(int(entry.name))
    return kids


def worker_of(server: AppServer, client_port: int) -> int | None:
    """Pid of the server process that accepted our connection from 127.0.0.1:client_port
    (uvicorn ``--workers N``: one of the children), read from /proc."""
    server_port = int(server.base_url.rsplit(":", 1)[1])
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            inode = fields[9]
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in (server.pid, *_children(server.pid)):
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return pid
    return None


def _wait_ready(server: AppServer, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base_url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"app server exited early:\n{server.log_tail()}")
            try:
                if client.get("/api/shop/products").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"app server did not answer within {timeout:.0f}s:\n{server.log_tail()}")


def database_state(url: str) -> dict[str, Any]:
    """What the runs left behind, for the sanity line of the report."""
    with psycopg.connect(url, autocommit=True) as conn:
        statuses: dict[str, int] = dict(
            conn.execute("SELECT status, count(*) FROM orders GROUP BY 1").fetchall()
        )
        verdicts: dict[str, int] = dict(
            conn.execute("SELECT verdict, count(*) FROM payment_notifies GROUP BY 1").fetchall()
        )
        keys: dict[str, int] = dict(
            conn.execute("SELECT status, count(*) FROM card_keys GROUP BY 1").fetchall()
        )
        payments = _one(conn, "SELECT count(*) FROM payments")
        misdelivered = _one(
            conn,
            "SELECT count(*) FROM orders o WHERE o.status = 'delivered' AND "
            "(SELECT count(*) FROM card_keys k WHERE k.order_id = o.id) <> o.quantity",
        )
    return {
        "orders": {str(k): int(v) for k, v in statuses.items()},
        "notify_verdicts": {str(k): int(v) for k, v in verdicts.items()},
        "card_keys": {str(k): int(v) for k, v in keys.items()},
        "payments": int(payments),
        "delivered_without_exact_keys": int(misdelivered),
    }
