"""``bench.py --scale``: the hot paths as the database grows (issue 8, issue 11).

    uv run python scripts/bench.py --scale [--sizes 10000,100000,1000000]
        [--seconds S] [--concurrency C] [--notifies N] [--lookups L]
        [--lookup-concurrency LC] [--lookup-rate R]

Fills the bench database in steps with COPY (``benchlib.fill``: delivered
orders, each with its payment, timeline and sold key, plus the same number of
keys in stock), and at each size starts the shop (one web process, as
``make run`` serves a small shop) and measures from outside:

- product list ``GET /api/shop/products`` (C clients, S seconds), and the
  stock query behind its snapshot (``catalog.list_products``) timed alone;
- paid notify → keys delivered (signed epay notifies for N orders filled
  unpaid at that step, C clients; every one checked to hold its key);
- PostgreSQL alone: ``scripts/pgbench/lookup.sql`` (an order by its number and
  its timeline, pgbench, C clients, S seconds), when pgbench is installed;
- lookup by identifier kind (L each, a different client address per request,
  as buyers are): order number, mistyped number, number pasted with its
  label, trade number, contact + query password, a card key typed in by
  mistake, a support ticket's number (a ticket opened through the app's own
  service for each sampled order). Each answer is checked to be of the
  expected kind. Twice per kind: buyers arriving at R lookups a second
  whether or not earlier ones were answered (latency from the moment each
  was due: what a buyer waits; the goal is judged on this), and LC clients
  each sending the next lookup as soon as the last is answered (the one
  process's capacity: at saturation a lookup's latency is mostly its wait
  behind the LC - 1 others).

The filler's peak memory (RSS) is printed per step: it stays flat because
rows are generated while COPY sends them.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import psycopg
import uvloop

from benchlib import fill, load, pgbench, setup
from benchlib.fill import Filled, Template
from benchlib.load import Client, Phase
from benchlib.setup import Shop, log
from kameng.catalog.service import list_products
from kameng.cli import pool_share
from kameng.kit.i18n import translator
from kameng.kit.logs import configure_logging
from kameng.orders import repository as orders_repo
from kameng.orders.explain import explain
from kameng.tickets import service as tickets

KINDS = {  # identifier kind -> the lookup answer's kind
    "order number": "order",
    "mistyped number": "suggestions",
    "pasted with label": "order",
    "trade number": "trade_no",
    "contact + password": "contact",
    "card key": "card_key",
    "ticket number": "ticket",
}
LOOKUP_GOAL_MS = 20.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.py --scale", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    p.add_argument("--sizes", default="10000,100000,1000000",
                   help="orders delivered (= keys sold = keys in stock) at each step")  # fmt: skip
    p.add_argument("--seconds", type=float, default=5, help="S: product-list phase (5)")
    p.add_argument("--concurrency", type=int, default=16, help="C: list/notify clients (16)")
    p.add_argument("--notifies", type=int, default=2000, help="N: notifies per step (2000)")
    p.add_argument("--lookups", type=int, default=1000, help="L: lookups per kind (1000)")
    p.add_argument("--lookup-concurrency", type=int, default=4,
                   help="LC: closed-loop lookup clients (4)")  # fmt: skip
    p.add_argument("--lookup-rate", type=float, default=100,
                   help="R: buyers' lookups per second, open loop (100)")  # fmt: skip
    args = p.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in str(args.sizes).split(",")})
    except ValueError:
        p.error("--sizes takes comma-separated integers")
    if min(*args.sizes, args.concurrency, args.notifies, args.lookups) < 1:
        p.error("sizes, --concurrency, --notifies, --lookups must be ≥ 1")
    return args


class Addresses:
    """A different client address per lookup (X-Forwarded-For from 127.0.0.1, which
    the server trusts): the per-address rate limits see many buyers, as in a shop."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> dict[str, str]:
        self.n += 1
        n = self.n
        return {"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}


def mistype(order_no: str) -> str:
    """One wrong digit (the check digit catches every one)."""
    d = order_no[7]
    return order_no[:7] + str((int(d) + 3) % 10) + order_no[8:]


def pasted(order_no: str) -> str:
    groups = " ".join(order_no[i : i + 4] for i in range(0, 16, 4))
    return f"【订单信息】订单号：{groups}，金额：10.00 元"


def samples(shop: Shop, filled: Filled, count: int) -> list[tuple[str, str, str, str]]:
    """(order number, trade number, contact, sold card number) of random delivered orders."""
    picked = random.sample(range(filled.delivered), min(count, filled.delivered))
    numbers = {fill.order_no_of(i): i for i in picked}
    with psycopg.connect(shop.url) as conn:
        rows = conn.execute(
            "SELECT o.order_no, p.trade_no, o.contact FROM orders o "
            "JOIN payments p ON p.order_id = o.id WHERE o.order_no = ANY(%s)",
            (list(numbers),),
        ).fetchall()
    return [(no, trade, contact, fill.sold_card_of(numbers[no])) for no, trade, contact in rows]


async def open_tickets(shop: Shop, order_nos: list[str]) -> dict[str, str]:
    """A support ticket for each of these orders, opened by the app's own service
    (as the support form does); order number -> ticket number."""
    t = translator("zh_CN")
    now = datetime.now(UTC)
    opened: dict[str, str] = {}
    async with await psycopg.AsyncConnection.connect(shop.url) as conn:
        for order_no in order_nos:
            order = await orders_repo.get_by_number(conn, order_no)
            assert order is not None
            why = explain(order, await orders_repo.events_of(conn, order.id), t, now=now)
            ticket = await tickets.open_ticket(
                conn, order=order, why=why, message="卡密无法使用", contact=None, now=now
            )
            opened[order_no] = ticket.ticket_no
        await conn.commit()
    return opened


def lookup_op(
    client: Client, kind: str, addresses: Addresses, tickets_of: dict[str, str]
) -> Callable[[tuple[str, str, str, str]], Awaitable[None]]:
    expected = KINDS[kind]

    async def run(sample: tuple[str, str, str, str]) -> None:
        order_no, trade_no, contact, card = sample
        headers = addresses.next()
        if kind == "contact + password":
            body = {"contact": contact, "password": fill.PASSWORD}
            status, content = await client.request(
                "POST", "/api/shop/lookup/contact", body, headers
            )
            if status != 200 or b'"order_no"' not in content:
                raise RuntimeError(f"contact lookup: {status} {content[:200]!r}")
            return
        q = {
            "order number": order_no,
            "mistyped number": mistype(order_no),
            "pasted with label": pasted(order_no),
            "trade number": trade_no,
            "card key": card,
            "ticket number": tickets_of.get(order_no, ""),
        }[kind]
        status, content = await client.request(
            "GET", f"/api/shop/lookup?q={quote(q)}", None, headers
        )
        if status != 200 or f'"kind":"{expected}"'.encode() not in content.replace(b" ", b""):
            raise RuntimeError(f"{kind} {q!r}: {status} {content[:200]!r}")

    return run


async def stock_query_ms(shop: Shop, runs: int = 200) -> Phase[None]:
    """The product list's stock query, alone, on one connection (what the snapshot
    re-reads once a second per process)."""
    phase: Phase[None] = Phase("stock query")
    async with await psycopg.AsyncConnection.connect(shop.url, autocommit=True) as conn:
        started = time.perf_counter()
        for _ in range(runs):
            t0 = time.perf_counter()
            await list_products(conn)
            phase.latencies.append(time.perf_counter() - t0)
            phase.results.append(None)
        phase.elapsed = time.perf_counter() - started
    return phase


Step = dict[str, Any]


async def measure(args: argparse.Namespace, shop: Shop, filled: Filled) -> Step:
    step: Step = {"stock_sql": await stock_query_ms(shop)}
    with psycopg.connect(shop.url) as conn:
        row = conn.execute("SELECT max(id) FROM orders").fetchone()
    assert row is not None
    step["pgbench_lookup"] = await asyncio.to_thread(
        pgbench.run, shop.url, "lookup.sql", clients=args.concurrency, seconds=args.seconds,
        variables={"orders": int(row[0])},
    )  # fmt: skip
    pool = pool_share(args.concurrency, 1)
    with setup.app_server(shop, workers=1, pool_size=pool) as server:
        clients = [Client(server.base) for _ in range(args.concurrency)]
        try:

            def list_op(c: Client) -> Callable[[Any], Awaitable[None]]:
                async def run(_: Any) -> None:
                    status, content = await c.request("GET", "/api/shop/products")
                    if status != 200:
                        raise RuntimeError(f"list: {status} {content[:200]!r}")

                return run

            await load.run("list warm-up", range(200), [list_op(c) for c in clients])
            step["list"] = await load.run(
                "list", range(10**9), [list_op(c) for c in clients], seconds=args.seconds
            )

            def notify_op(c: Client) -> Callable[[str], Awaitable[str]]:
                async def run(order_no: str) -> str:
                    path = f"/notify/epay?{fill.notify_query(shop, order_no)}"
                    status, content = await c.request("GET", path)
                    if status != 200 or content != b"success":
                        raise RuntimeError(f"notify {order_no}: {status} {content[:200]!r}")
                    return order_no

                return run

            step["notify"] = await load.run(
                "notify", filled.unpaid, [notify_op(c) for c in clients]
            )
            step["delivered_wrong"] = wrongly_delivered(shop, step["notify"].results)
            addresses = Addresses()
            picks = samples(shop, filled, args.lookups)
            tickets_of = await open_tickets(shop, [p[0] for p in picks])
            lookup_clients = clients[: args.lookup_concurrency]
            for kind in KINDS:
                ops = [lookup_op(c, kind, addresses, tickets_of) for c in lookup_clients]
                await load.run(f"{kind} warm-up", picks[:20], ops)
                paced = [lookup_op(c, kind, addresses, tickets_of) for c in clients]
                step[kind] = await load.run_at_rate(kind, picks, paced, rate=args.lookup_rate)
                step[f"{kind} capacity"] = await load.run(kind, picks, ops)
        finally:
            for client in clients:
                await client.close()
    return step


def wrongly_delivered(shop: Shop, order_nos: list[str]) -> int:
    """Paid orders of the phase that are not delivered holding exactly their keys."""
    with psycopg.connect(shop.url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM orders o WHERE o.order_no = ANY(%s) AND NOT ("
            " o.status = 'delivered' AND o.quantity ="
            " (SELECT count(*) FROM card_keys k WHERE k.order_id = o.id))",
            (order_nos,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(args: argparse.Namespace, shop: Shop) -> list[tuple[int, Filled, float, Step]]:
    await setup.seed(shop, keys=10)
    template: Template = await fill.make_template(shop)
    filled = Filled()
    steps = []
    for size in args.sizes:
        await asyncio.to_thread(
            fill.fill, shop, template, filled,
            delivered=size, unpaid=args.notifies, in_stock=size,
        )  # fmt: skip
        rss = peak_rss_mib()
        log(f"filled to {size:,}: {filled.rows:,} rows in {filled.seconds:.0f}s, "
            f"filler peak RSS {rss:.0f} MiB")  # fmt: skip
        step = await measure(args, shop, filled)
        steps.append((size, Filled(**vars(filled)), rss, step))
    return steps


def _cell(phase: Phase[Any], rate: bool = True) -> str:
    if phase.failed:
        return f"{phase.failed} FAILED"
    p = f"{phase.ms(50):.1f} / {phase.ms(99):.1f}"
    return f"{phase.rate:,.0f}/s ({p})" if rate else p


def table(
    args: argparse.Namespace, shop: Shop, steps: list[tuple[int, Filled, float, Step]]
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sizes = [f"{s:,}" for s, *_ in steps]
    head = "| | " + " | ".join(sizes) + " |"
    rule = "|---" * (len(steps) + 1) + "|"
    lines = [
        f"kameng bench --scale, {when}: PostgreSQL {shop.server_version}, one web process; "
        f"size = orders delivered = keys sold = keys in stock",
        f"list {args.seconds:g} s and notify {args.notifies} orders at concurrency "
        f"{args.concurrency}; lookups {args.lookups} per kind at {args.lookup_rate:g}/s "
        f"(open loop) and at concurrency {args.lookup_concurrency} (closed loop); "
        "(p50 / p99 ms)",
        "",
        head,
        rule,
        "| fill: rows (s) | "
        + " | ".join(f"{f.rows:,} ({f.seconds:.0f} s)" for _, f, _, _ in steps) + " |",
        "| filler peak RSS | " + " | ".join(f"{rss:.0f} MiB" for _, _, rss, _ in steps) + " |",
        "| product list | " + " | ".join(_cell(s["list"]) for *_, s in steps) + " |",
        "| stock query alone (ms) | "
        + " | ".join(_cell(s["stock_sql"], rate=False) for *_, s in steps) + " |",
        "| paid notify → keys delivered | " + " | ".join(_cell(s["notify"]) for *_, s in steps)
        + " |",
        "| pgbench lookup.sql (order by number + timeline), TPS | "
        + " | ".join(s["pgbench_lookup"].cell() for *_, s in steps) + " |",
        "",
        f"Lookup by identifier kind: p50 / p99 ms at {args.lookup_rate:g} lookups/s "
        f"(goal p99 ≤ 20 ms at the largest size), and the process's capacity with "
        f"{args.lookup_concurrency} clients back to back (lookups/s, p50 / p99 ms):",
        "",
        "| identifier | "
        + " | ".join(f"{size} at {args.lookup_rate:g}/s | {size} capacity" for size in sizes)
        + " | goal |",
        "|---" * (2 * len(steps) + 2) + "|",
    ]  # fmt: skip
    for kind in KINDS:
        last = steps[-1][3][kind]
        met = "met" if not last.failed and last.ms(99) <= LOOKUP_GOAL_MS else "NOT met"
        cells = [f"{_cell(s[kind], rate=False)} | {_cell(s[kind + ' capacity'])}"
                 for *_, s in steps]  # fmt: skip
        lines.append(f"| {kind} | " + " | ".join(cells) + f" | {met} |")
    wrong = sum(s["delivered_wrong"] for *_, s in steps)
    failed = [f"{size:,} {k}" for size, _, _, s in steps for k, v in s.items()
              if isinstance(v, Phase) and v.failed]  # fmt: skip
    lines.append(f"\npaid orders not holding exactly their keys: {wrong}")
    lines.append(f"failures: {', '.join(failed) or 'none'}")
    for size, _, _, s in steps:
        for k, v in s.items():
            if isinstance(v, Phase) and v.errors:
                lines.append(f"  {size:,} {k}: {v.errors[0][:300]}")
    return "\n".join(lines) + "\n"


def failed(steps: list[tuple[int, Filled, float, Step]]) -> bool:
    return any(
        (isinstance(v, Phase) and v.failed) or (k == "delivered_wrong" and v)
        for *_, s in steps
        for k, v in s.items()
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    configure_logging("WARNING", stream=sys.stderr)  # the in-process template order logs too
    started = time.perf_counter()
    with setup.bench_database() as shop:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            steps = runner.run(run(args, shop))
        sys.stdout.write(table(args, shop, steps))
    log(f"done in {time.perf_counter() - started:.0f}s")
    return 1 if failed(steps) else 0
