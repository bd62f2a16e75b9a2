"""A throw-away database with sealed card keys, and the shop as a real uvicorn server."""

from __future__ import annotations

import base64
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
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

from kameng.cardkeys.importer import import_card_keys
from kameng.config import PROJECT_ROOT, Settings
from kameng.db.embedded import resolve_database_url
from kameng.db.engine import libpq_url
from kameng.db.migrate import upgrade

SKU = "BENCH-10"
PRICE_CENTS = 1000
PRODUCT_NAME = "游戏点卡 10 元"


def log(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


@dataclass(frozen=True)
class Shop:
    """Where the bench's shop runs and the secrets it runs with (fresh every run)."""

    url: str  # the bench database
    server_version: str
    env: dict[str, str]  # KAMENG_* of the server process

    def settings(self) -> Settings:
        return Settings(
            _env_file=None,
            database_url=self.url,
            secret_key=self.env["KAMENG_SECRET_KEY"],
            card_key_encryption_key=self.env["KAMENG_CARD_KEY_ENCRYPTION_KEY"],
            epay_url=self.env["KAMENG_EPAY_URL"],
            epay_pid=self.env["KAMENG_EPAY_PID"],
            epay_key=self.env["KAMENG_EPAY_KEY"],
        )


def _secrets_env() -> dict[str, str]:
    return {
        "KAMENG_SECRET_KEY": secrets.token_urlsafe(32),
        "KAMENG_CARD_KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "KAMENG_EPAY_PID": "1001",
        "KAMENG_EPAY_KEY": secrets.token_urlsafe(24),
        "KAMENG_EPAY_URL": "https://epay.bench.invalid/",  # never called by the bench
    }


@contextmanager
def bench_database() -> Iterator[Shop]:
    """A fresh migrated ``kameng_bench_<random>`` database (DATABASE_URL's server or the
    embedded one), dropped WITH (FORCE) at the end."""
    server_url, handle = resolve_database_url(os.environ.get("DATABASE_URL"), PROJECT_ROOT / "var")
    name = f"kameng_bench_{secrets.token_hex(4)}"
    admin = libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = urlunsplit(urlsplit(admin)._replace(path="/" + name))
        upgrade(url)
        with psycopg.connect(url) as conn:
            version = str(_one(conn, "SHOW server_version"))
        yield Shop(url=url, server_version=version, env=_secrets_env())
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        del handle  # the embedded server stops with its last handle


def _one(conn: psycopg.Connection[Any], sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


async def seed(shop: Shop, keys: int) -> None:
    """One product and ``keys`` card keys, through the app's own importer."""
    started = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(shop.url) as conn:
        await conn.execute(
            "INSERT INTO products (sku, name, kind, price_cents, max_quantity, description, "
            "active, created_at) VALUES (%s, %s, 'card_key', %s, 10, '', true, now())",
            (SKU, PRODUCT_NAME, PRICE_CENTS),
        )
        await conn.commit()
        lines = (f"BK-{i:08d} PW{i:08d}" for i in range(keys))
        cipher = shop.settings().card_key_cipher()
        await import_card_keys(conn, product_sku=SKU, lines=lines, cipher=cipher)
    settle(shop.url)
    log(f"seeded {keys} sealed card keys in {time.perf_counter() - started:.1f}s")


def settle(url: str) -> None:
    """Same start for every measured phase: dead rows gone, statistics fresh, pages flushed."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        with contextlib.suppress(psycopg.Error):  # CHECKPOINT needs pg_checkpoint rights
            conn.execute("CHECKPOINT")


def delivery_check(url: str) -> tuple[int, int]:
    """(delivered orders, delivered orders not holding exactly their keys)."""
    with psycopg.connect(url) as conn:
        delivered = _one(conn, "SELECT count(*) FROM orders WHERE status = 'delivered'")
        wrong = _one(
            conn,
            "SELECT count(*) FROM orders o WHERE o.status = 'delivered' AND "
            "(SELECT count(*) FROM card_keys k WHERE k.order_id = o.id) <> o.quantity",
        )
    return int(delivered), int(wrong)


@dataclass(frozen=True)
class Server:
    base: str  # http://127.0.0.1:<port>
    pid: int  # uvicorn's (the parent of its workers when there are several)


@contextmanager
def app_server(
    shop: Shop, *, workers: int, pool_size: int, server: str = "uvicorn"
) -> Iterator[Server]:
    """``uvicorn kameng.web.app:production_app`` (uvloop, httptools, JSON request logs
    into a temporary file) on 127.0.0.1:<free port>. ``pool_size`` is per process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAMENG_")}
    env |= shop.env | {"DATABASE_URL": shop.url, "KAMENG_PUBLIC_URL": base,
                       "KAMENG_DB_POOL_SIZE": str(pool_size)}  # fmt: skip
    command = [
        sys.executable, "-m", "uvicorn", "kameng.web.app:production_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log",
        "--timeout-keep-alive", "600",  # idle client connections survive VACUUM between phases
    ]  # fmt: skip
    if server == "granian":  # the comparison of issue 8 (README, Benchmarks)
        command = [
            str(Path(sys.executable).with_name("granian")), "kameng.web.app:production_app",
            "--factory", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--loop", "uvloop", "--http", "1", "--no-ws",
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    with tempfile.NamedTemporaryFile(prefix="kameng-bench-server-", suffix=".log") as out:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out)
        try:
            _wait_ready(process, base, out.name)
            yield Server(base, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            text = Path(out.name).read_text(errors="replace")
            for line in [x for x in text.splitlines() if '"error"' in x][:5]:
                log(f"server: {line.strip()[:300]}")


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants (Linux /proc; 0 elsewhere)."""
    if not pid or not Path("/proc/self/stat").exists():
        return 0.0
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        process = int(stat.parent.name)
        parents[process] = int(fields[1])  # ppid
        ticks[process] = int(fields[11]) + int(fields[12])  # utime + stime
    total = 0
    for process, spent in ticks.items():
        ancestor = process
        while ancestor and ancestor != pid:
            ancestor = parents.get(ancestor, 0)
        if ancestor == pid:
            total += spent
    return total / os.sysconf("SC_CLK_TCK")


def _wait_ready(process: subprocess.Popen[bytes], base: str, log_path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = Path(log_path).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"server exited: {tail}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(base + "/api/shop/products", timeout=5).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not answer within 60 s")
