"""HTTP vs raw-SQL throughput of the shop's two hot paths (``make bench``).

    uv run python scripts/bench.py [--orders N] [--concurrency C] [--duration S] [--json]
                                   [--client minimal|httpx] [--workers W]
                                   [--profile-server FILE]

From one run it prints:

1. orders created per second through HTTP (``POST /api/shop/orders``);
2. paid notifies per second through HTTP (``GET /notify/epay?…`` signed exactly as
   the epay sandbox signs them, one per distinct unpaid order, each answer must be
   exactly ``success``; failures are counted and shown);
3. p50/p99 of "notify sent → keys visible" (``GET /api/shop/orders/{no}?token=…``
   returns non-empty goods) on a sample of orders, at low concurrency;
4. the same two transactions as raw SQL (bare psycopg 3, the statements the app
   itself sends, captured from its code, in the app's transaction shape: pipeline
   mode + one transaction), at the same concurrency, and HTTP/raw. Before the
   measured phases, one create and one notify of each side run under libpq's
   protocol trace: the messages must match, and the round trips per transaction
   are reported.

The target of the performance issue is HTTP/raw ≥ 0.5 on both paths.

Setup: PostgreSQL from DATABASE_URL, else the embedded one (var/pg). A fresh
``kameng_bench_<random>`` database is created, migrated, seeded with one product
and real AES-GCM sealed card keys, and dropped (WITH (FORCE)) at the end. The app
runs as a real uvicorn subprocess (``--workers``, default 1) on 127.0.0.1, its
psycopg pool sized to the concurrency (KAMENG_DB_POOL_SIZE); the load generator
is this process (one keep-alive HTTP/1.1 connection per worker). Every loop is
bounded by a fixed item count (and optionally ``--duration``); everything
targets 127.0.0.1 or the database server only.

The box is small (2 cores for PostgreSQL, the server and the generator), so the
generator must be cheap: the default client is a bare HTTP/1.1 client
(``benchlib.mini_http``, ~0.1 ms CPU per request); ``--client httpx`` costs
≈0.85 ms CPU per request, more than a whole raw-SQL transaction, and so takes
CPU from the server it measures. The report says who used the CPU in each
phase and how many CPU milliseconds each party spent per operation, and warns
when processes outside the bench took a noticeable share. ``--profile-server``
runs the server under cProfile. Exit status is 1 when any operation failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import uvloop
from benchlib import http_client, raw_sql, report, wire
from benchlib.http_client import HttpClient, Order, Visible
from benchlib.load import CpuMonitor, Op, PhaseResult, run_phase
from benchlib.raw_sql import NotifyItem, RawShop
from benchlib.report import Meta, Results
from benchlib.setup import (
    BenchDatabase,
    app_server,
    bench_database,
    bench_settings,
    database_state,
    local_postmaster,
    log,
    seed,
    settle,
)
from benchlib.sql import AppSql, capture_app_sql

from kameng.config import Settings

KEY_MARGIN = 500


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="HTTP vs raw-SQL throughput of order creation and paid notifies."
    )
    parser.add_argument("--orders", type=int, default=3000, help="N per measured phase (3000)")
    parser.add_argument("--concurrency", type=int, default=16, help="workers/connections (16)")
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="also stop each measured phase after this many seconds (N stays the cap)",
    )
    parser.add_argument("--warmup", type=int, default=200, help="uncounted warm-up per path")
    parser.add_argument("--latency-sample", type=int, default=200, help="orders in the sample")
    parser.add_argument(
        "--latency-concurrency", type=int, default=4, help="concurrency of the latency sample"
    )
    parser.add_argument(
        "--client",
        choices=http_client.CLIENTS,
        default="minimal",
        help="HTTP load generator: a minimal keep-alive HTTP/1.1 client (default, cheap) "
        "or httpx (≈0.85 ms CPU per request, taken from the server on a small box)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="uvicorn worker processes of the app server (2: one per core, as deployed)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument(
        "--profile-server",
        type=Path,
        default=None,
        metavar="FILE",
        help="run the app server under cProfile (CPU clock), write pstats to FILE "
        "(HTTP figures of such a run are slowed by the profiler)",
    )
    args = parser.parse_args(argv)
    for name in ("orders", "concurrency", "latency_sample", "latency_concurrency", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.duration is not None and args.duration <= 0:
        parser.error("--duration must be positive")
    if args.profile_server is not None and args.workers != 1:
        parser.error("--profile-server profiles one worker: use --workers 1")
    return args


def _progress(phase: PhaseResult[Any]) -> None:
    failed = f", {phase.failures} FAILED" if phase.failures else ""
    log(
        f"{phase.name}: {phase.ok}/{phase.attempted} ok{failed} in {phase.elapsed:.2f}s "
        f"= {phase.rate:,.1f}/s"
    )
    for error in phase.errors:
        log(f"  {error}")


async def _settle(url: str) -> None:
    await asyncio.to_thread(settle, url)


async def http_phases(
    args: argparse.Namespace, db: BenchDatabase, settings: Settings, spread_seen: list[int]
) -> tuple[PhaseResult[Order], PhaseResult[None], PhaseResult[Visible]]:
    c = args.concurrency
    profile_to = args.profile_server.resolve() if args.profile_server else None
    with app_server(
        db.url, workers=args.workers, pool_size=pool_size(args), profile_to=profile_to
    ) as server:
        monitor = CpuMonitor(server.pid, local_postmaster(db.url))
        clients = [http_client.client(server.base_url, args.client) for _ in range(c)]
        try:
            if args.workers > 1:
                spread = await http_client.spread(clients, server, args.workers)
                log(
                    f"client connections per worker: {'/'.join(map(str, spread))}"
                    if spread
                    else "client connections left to the kernel (httpx): workers may be unevenly "
                    "loaded"
                )
                spread_seen.extend(spread)
            creators = [_creator(h) for h in clients]
            notifiers = [_notifier(h) for h in clients]

            warm = await run_phase("HTTP warm-up create", range(args.warmup), creators)
            _progress(warm)
            warm_n = await run_phase("HTTP warm-up notify", _targets(settings, warm), notifiers)
            _progress(warm_n)

            await _settle(db.url)
            created = await run_phase(
                "HTTP create", range(args.orders), creators, duration=args.duration, monitor=monitor
            )
            _progress(created)

            await _settle(db.url)
            notified = await run_phase(
                "HTTP notify",
                _targets(settings, created),
                notifiers,
                duration=args.duration,
                monitor=monitor,
            )
            _progress(notified)

            sample = await run_phase("latency sample create", range(args.latency_sample), creators)
            _progress(sample)
            await _settle(db.url)
            extra = [
                http_client.client(server.base_url, args.client)
                for _ in range(args.latency_concurrency - len(clients))
            ]
            clients += extra
            watchers = [_watcher(h) for h in clients[: args.latency_concurrency]]
            latency = await run_phase(
                "notify → keys visible",
                [(o, http_client.notify_target(settings, o)) for o in sample.results],
                watchers,
                monitor=monitor,
            )
            _progress(latency)
        finally:
            await http_client.close_all(clients)
        if server.process.poll() is not None:
            log(f"WARNING: the app server died during the run (see failures):\n{server.log_tail()}")
        elif tail := server.log_tail().strip():
            log(f"app server log (warnings and errors only):\n{tail}")
    return created, notified, latency


def pool_size(args: argparse.Namespace) -> int:
    """Connections per server worker: one per concurrent request it may get."""
    return int(max(args.concurrency, args.latency_concurrency))


def _creator(h: HttpClient) -> Op[int, Order]:
    async def op(_: int) -> Order:
        return await http_client.create_order(h)

    return op


def _notifier(h: HttpClient) -> Op[str, None]:
    async def op(target: str) -> None:
        await http_client.notify(h, target)

    return op


def _watcher(h: HttpClient) -> Op[tuple[Order, str], Visible]:
    async def op(item: tuple[Order, str]) -> Visible:
        return await http_client.notify_until_visible(h, item)

    return op


def _targets(settings: Settings, created: PhaseResult[Order]) -> list[str]:
    """Signed notify URLs, built before the phase starts (the gateway's work, not the shop's)."""
    return [http_client.notify_target(settings, o) for o in created.results]


async def raw_phases(
    args: argparse.Namespace, db: BenchDatabase, shop: RawShop
) -> tuple[PhaseResult[Order], PhaseResult[None]]:
    settings = bench_settings(db.url)
    conns = await raw_sql.connect(db.url, args.concurrency)
    monitor = CpuMonitor(None, local_postmaster(db.url))
    try:
        creators = [shop.create_op(conn) for conn in conns]
        notifiers = [shop.notify_op(conn) for conn in conns]

        warm = await run_phase("raw warm-up create", range(args.warmup), creators)
        _progress(warm)
        warm_n = await run_phase("raw warm-up notify", _raw_items(settings, warm), notifiers)
        _progress(warm_n)

        await _settle(db.url)
        created = await run_phase(
            "raw create", range(args.orders), creators, duration=args.duration, monitor=monitor
        )
        _progress(created)

        await _settle(db.url)
        notified = await run_phase(
            "raw notify",
            _raw_items(settings, created),
            notifiers,
            duration=args.duration,
            monitor=monitor,
        )
        _progress(notified)
    finally:
        await raw_sql.close_all(conns)
    return created, notified


def _raw_items(settings: Settings, created: PhaseResult[Order]) -> list[NotifyItem]:
    return [NotifyItem(o, http_client.notify_query(settings, o)) for o in created.results]


async def run(args: argparse.Namespace, db: BenchDatabase, app_sql: AppSql) -> Results:
    settings = bench_settings(db.url)
    keys = 2 * (args.warmup + args.orders) + args.latency_sample + KEY_MARGIN
    await asyncio.to_thread(seed, db.url, settings, keys)

    shop = RawShop(app_sql, unpaid_ttl=timedelta(seconds=settings.unpaid_ttl_seconds))
    on_wire = await wire.check(db.url, settings, shop)
    log(
        f"wire check: app and raw send the same messages; round trips per transaction: "
        f"create {on_wire.create.round_trips}, notify {on_wire.notify.round_trips}"
    )

    spread: list[int] = []  # client connections per server worker (--workers > 1)
    http_create, http_notify, latency = await http_phases(args, db, settings, spread)
    raw_create, raw_notify = await raw_phases(args, db, shop)

    meta = Meta(
        when=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        pg_version=db.server_version,
        pg_kind="embedded" if db.embedded else "via DATABASE_URL",
        pg_settings=db.settings_shown,
        cores=os.cpu_count() or 0,
        concurrency=args.concurrency,
        orders=args.orders,
        warmup=args.warmup,
        duration=args.duration,
        latency_sample=args.latency_sample,
        latency_concurrency=args.latency_concurrency,
        server_profiled=args.profile_server is not None,
        client=args.client,
        workers=args.workers,
        connections_per_worker=spread,
        pool_size=pool_size(args),
        wire={"create": on_wire.create.summary(), "notify": on_wire.notify.summary()},
    )
    state = await asyncio.to_thread(database_state, db.url)
    return Results(meta, http_create, http_notify, latency, raw_create, raw_notify, state)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    app_sql = capture_app_sql()  # before anything else: fail fast if the app changed shape
    with bench_database() as db, asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results = runner.run(run(args, db, app_sql))
    log(f"done in {time.perf_counter() - started:.1f}s")
    if args.profile_server:
        written = args.profile_server.exists()
        log(
            f"server profile (cProfile, CPU clock) {'in' if written else 'NOT written to'} "
            f"{args.profile_server}"
        )
    if args.json:
        sys.stdout.write(json.dumps(report.as_json(results), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(report.as_table(results))
    failed = sum(
        p.failures
        for p in (
            results.http_create,
            results.http_notify,
            results.latency,
            results.raw_create,
            results.raw_notify,
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
