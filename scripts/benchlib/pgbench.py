"""The pgbench reference of issue 8, from the SQL files in ``scripts/pgbench``.

PostgreSQL alone running the kind of SQL each hot path needs (``create.sql``:
order + event; ``notify.sql``: the issue's 8-round-trip paid notify;
``lookup.sql``: an order by its number and its timeline), prepared, in the
same invocation as the kameng figures, so the ratios compare one run. It runs
on its own product (its own keys and orders), so it takes nothing from the
shop's phases. When pgbench is not installed the figures are missing and the
reason is printed (``Reference.note``).
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from benchlib.setup import log

SCRIPTS = Path(__file__).resolve().parent.parent / "pgbench"
SKU = "PGBENCH-10"
MAX_TPS = 10_000  # orders and keys laid out for notify.sql: seconds × this


@dataclass(frozen=True)
class Reference:
    script: str
    tps: float | None  # None: not measured, see note
    note: str = ""

    def cell(self) -> str:
        return f"{self.tps:,.0f}" if self.tps is not None else f"– ({self.note})"


def binary() -> str | None:
    """pgbench on PATH, else the newest PostgreSQL installation's."""
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    return candidates[-1] if candidates else None


def missing() -> str:
    return "pgbench not found (apt-get install postgresql-client or postgresql-contrib)"


def prepare(url: str, *, notifies: int) -> dict[str, int]:
    """pgbench's own product, ``notifies`` unpaid orders with consecutive ids and as
    many keys in stock; returns the ``-D`` variables the scripts need."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO products (sku, name, kind, price_cents, max_quantity, description,"
            " active, created_at) VALUES (%s, 'pgbench', 'card_key', 1000, 10, '', true, now())"
            " ON CONFLICT (sku) DO UPDATE SET active = true RETURNING id",
            (SKU,),
        ).fetchone()
        assert row is not None
        product = int(row[0])
        with conn.transaction():
            first = _one(conn, "SELECT coalesce(max(id), 0) + 1 FROM orders")
            conn.execute(
                "INSERT INTO orders (id, order_no, product_id, quantity, unit_price_cents,"
                " amount_cents, gateway, status, delivered_quantity, created_at, expires_at,"
                " updated_at) SELECT %(first)s + g, (9000000000000000 + %(first)s + g)::text,"
                " %(p)s, 1, 1000, 1000, 'epay', 'unpaid', 0, now(), now() + interval '2 hours',"
                " now() FROM generate_series(0, %(n)s - 1) AS g",
                {"first": first, "p": product, "n": notifies},
            )
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('orders', 'id'),"
                " (SELECT max(id) FROM orders))"
            )
            conn.execute(
                "INSERT INTO card_keys (product_id, fingerprint, secret, created_at)"
                " SELECT %(p)s, substring(sha256(int8send(%(first)s + g)) FROM 1 FOR 16),"
                " '\\x00', now() FROM generate_series(0, %(n)s - 1) AS g",
                {"first": first, "p": product, "n": notifies},
            )
        conn.execute("VACUUM (ANALYZE) orders, card_keys")
        orders = _one(conn, "SELECT max(id) FROM orders")
    return {"product": product, "first": first, "k": 0, "orders": orders}


def _one(conn: psycopg.Connection[Any], sql: str) -> int:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def run(
    url: str, script: str, *, clients: int, seconds: float, variables: dict[str, int]
) -> Reference:
    """``pgbench -n -M prepared -f scripts/pgbench/<script>`` for ``seconds``."""
    pgbench = binary()
    if pgbench is None:
        return Reference(script, None, missing())
    defines = {**variables, "clients": clients}
    command = [pgbench, "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
               "-T", str(max(1, round(seconds))), "-f", str(SCRIPTS / script)]  # fmt: skip
    for name, value in defines.items():
        command += ["-D", f"{name}={value}"]
    command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds * 5 + 120)
    out = done.stdout + done.stderr
    tps = re.search(r"^tps = ([0-9.]+)", out, re.M)
    aborted = re.search(r"client \d+ aborted[^\n]*", out)
    if done.returncode != 0 or tps is None or aborted:
        reason = aborted.group(0) if aborted else out.strip().splitlines()[-1:] or ["no output"]
        log(f"pgbench {script} failed ({done.returncode}): {out[-800:]}")
        return Reference(script, None, f"pgbench failed: {str(reason)[:120]}")
    log(f"pgbench {script}: {float(tps.group(1)):,.0f} TPS")
    return Reference(script, float(tps.group(1)))


def table(rows: list[tuple[str, list[tuple[str, float]], Reference]]) -> str:
    """Issue 8's comparison: (path, [(side, kameng req/s)], pgbench reference)."""
    sides = [side for side, _ in rows[0][1]] if rows else []
    lines = [
        "",
        "Reference: pgbench from the SQL files in scripts/pgbench (PostgreSQL alone, "
        "prepared, same concurrency, same run):",
        "",
        "| path | pgbench file | pgbench TPS | "
        + " | ".join(f"kameng {s} req/s | {s} / pgbench" for s in sides) + " |",
        "|---" * (3 + 2 * len(sides)) + "|",
    ]  # fmt: skip
    for path, kameng, ref in rows:
        cells = []
        for _, rate in kameng:
            ratio = f"{rate / ref.tps:.2f}" if ref.tps else "–"
            cells.append(f"{rate:,.0f} | {ratio}")
        lines.append(f"| {path} | {ref.script} | {ref.cell()} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


PATHS = {  # bench.py's path -> the pgbench file it is compared with
    "create_pw": ("create order + query password", "create.sql"),
    "notify": ("paid notify → keys delivered", "notify.sql"),
    "detail": ("order detail + query password", "lookup.sql"),
}


def compare(url: str, rates: dict[str, dict[str, float]], *, clients: int, seconds: float) -> str:
    """Run each pgbench file after the shop's phases (on its own product, so the
    shop's delivery check is unaffected) and the table of issue 8 with the ratios.
    ``rates``: path -> side ("P=1", …) -> kameng req/s."""
    if binary() is None:
        return f"\nReference pgbench: not run, {missing()}.\n"
    variables = prepare(url, notifies=int(seconds * MAX_TPS))
    rows = []
    for path, (label, script) in PATHS.items():
        ref = run(url, script, clients=clients, seconds=seconds, variables=variables)
        rows.append((label, list(rates[path].items()), ref))
    return table(rows)
