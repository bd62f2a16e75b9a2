"""Time ``kameng import-cards`` on 1,000,000 generated lines.

    uv run python scripts/bench_import.py postgresql://user@host/db [lines]

The database must be migrated. The script creates a product ``BENCH-<random>``,
writes the lines to a temporary file, imports them through the CLI function
(progress bar on stderr, report on stdout) and prints lines per second. It
leaves the product and its keys in the database: use a scratch database.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from kameng.cardkeys.cli import import_cards_command
from kameng.db.engine import libpq_url


def main() -> int:
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__ or "")
        return 2
    url = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    sku = f"BENCH-{secrets.token_hex(4)}"
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO products (sku, name, kind, price_cents, max_quantity, description,"
            " active, created_at) VALUES (%s, %s, 'card_key', 100, 10, '', true, now())",
            (sku, "benchmark"),
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cards.txt"
        started = time.perf_counter()
        with path.open("w", encoding="utf-8") as out:
            for i in range(count):
                sep = "," if i % 2 else " "
                out.write(f"KM{i:014d}{sep}{secrets.token_hex(8)}\n")
        generated = time.perf_counter() - started
        size = path.stat().st_size
        sys.stderr.write(f"generated {count} lines ({size / 1e6:.1f} MB) in {generated:.1f}s\n")

        started = time.perf_counter()
        code = import_cards_command(sku, path, url)
        elapsed = time.perf_counter() - started
    sys.stdout.write(
        f"exit code {code}; {count} lines in {elapsed:.1f}s = {count / elapsed:,.0f} lines/s\n"
    )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
