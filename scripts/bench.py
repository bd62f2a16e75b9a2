"""Throughput of the buyer's hot paths against the app's own SQL (``make bench``).

    uv run python scripts/bench.py [--orders N] [--concurrency C] [--seconds S]
                                   [--warmup W] [--workers P]

For each path it measures the shop over HTTP (a real uvicorn server with P
worker processes, logging as in production) and, as the reference, the very
statements the app sent for that request, captured from the app itself and
replayed through bare psycopg (``benchlib.capture``), at the same concurrency:

    product list                   GET /api/shop/products
    create order                   POST /api/shop/orders
    create order + query password  the same with a query password
    paid notify → keys delivered   GET /notify/epay, signed as epay signs it

Each phase runs N operations or S seconds, whichever ends first, after W
uncounted ones. Everything shares this machine's cores (PostgreSQL, server,
load generator), so the ratios of one run are what count, not the absolute
figures. PostgreSQL is DATABASE_URL's server or the embedded one; the bench
works in a fresh database that it drops at the end. Exit status 1 when any
operation failed or a delivered order does not hold exactly its keys.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import uvloop

from benchlib import capture, load, reference, setup
from benchlib.capture import Request
from benchlib.load import Client, Phase
from benchlib.setup import Shop, log
from kameng.db.connection import make_pool
from kameng.kit.logs import configure_logging
from kameng.kit.money import format_yuan
from kameng.payments.gateways import epay_sign
from kameng.web.app import create_app

PASSWORD = "bench-Pass-1234"
ORDER = {"product": setup.SKU, "quantity": 1, "gateway": "epay"}
WITH_PASSWORD = {**ORDER, "query_password": PASSWORD}
PATHS = {
    "list": "product list",
    "create": "create order",
    "create_pw": "create order + query password",
    "notify": "paid notify → keys delivered",
}
PASSWORD_GOAL = 0.90  # issue 7: create with a password ≥ 90 % of create without


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--orders", type=int, default=2000, help="N: operations per phase (2000)")
    p.add_argument("--seconds", type=float, default=15, help="S: phase time limit (15)")
    p.add_argument("--concurrency", type=int, default=16, help="C: connections (16)")
    p.add_argument("--warmup", type=int, default=200, help="W: uncounted operations (200)")
    p.add_argument("--workers", type=int, default=2, help="P: server processes (2)")
    args = p.parse_args(argv)
    if min(args.orders, args.concurrency, args.workers) < 1 or args.seconds <= 0:
        p.error("--orders, --concurrency, --workers must be ≥ 1 and --seconds > 0")
    return args


def notify_query(shop: Shop, order_no: str) -> str:
    params = {
        "pid": shop.env["KAMENG_EPAY_PID"],
        "trade_no": f"2026{order_no}",
        "out_trade_no": order_no,
        "type": "alipay",
        "name": setup.PRODUCT_NAME,
        "money": format_yuan(setup.PRICE_CENTS).rstrip("0").rstrip("."),  # PHP-style, as epay
        "trade_status": "TRADE_SUCCESS",
    }
    params["sign"] = epay_sign.sign(params, shop.env["KAMENG_EPAY_KEY"])
    params["sign_type"] = "MD5"
    return urlencode(params)


class Captured:
    """One request of each path, served by the app in-process and recorded."""

    def __init__(self) -> None:
        self.requests: dict[str, Request] = {}
        self.order_no: dict[str, str] = {}  # the order each captured request created/paid

    async def run(self, shop: Shop) -> None:
        pool = make_pool(shop.url, size=1)
        await pool.open()
        await capture.record_on(pool)
        transport = httpx.ASGITransport(app=create_app(shop.settings(), pool=pool))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                await self._one(http, "list", "GET", "/api/shop/products", None, 200)
                for path, body in (("create", ORDER), ("create_pw", WITH_PASSWORD)):
                    r = await self._one(http, path, "POST", "/api/shop/orders", body, 201)
                    self.order_no[path] = r.json()["order_no"]
                paid = self.order_no["create"]
                url = f"/notify/epay?{notify_query(shop, paid)}"
                r = await self._one(http, "notify", "GET", url, None, 200)
                if r.text != "success":
                    raise RuntimeError(f"captured notify answered {r.text!r}")
                self.order_no["notify"] = paid
        finally:
            await pool.close()

    async def _one(
        self, http: httpx.AsyncClient, path: str, method: str, url: str, body: Any, status: int
    ) -> httpx.Response:
        async def send() -> httpx.Response:
            return await http.request(method, url, json=body)

        request, response = await capture.capture(send)
        if response.status_code != status:
            raise RuntimeError(f"captured {path}: {response.status_code} {response.text[:200]}")
        self.requests[path] = request
        return response


# -- the two sides of each path ------------------------------------------------------


def http_ops(client: Client, shop: Shop) -> dict[str, Callable[[Any], Awaitable[Any]]]:
    async def expect(method: str, path: str, body: Any, status: int) -> bytes:
        got, content = await client.request(method, path, body)
        if got != status:
            raise RuntimeError(f"{method} {path.split('?')[0]}: {got} {content[:200]!r}")
        return content

    async def create(body: dict[str, Any]) -> str:
        content = await expect("POST", "/api/shop/orders", body, 201)
        return content.split(b'"order_no":"', 1)[1][:16].decode()

    async def notify(order_no: str) -> None:
        if (
            await expect("GET", f"/notify/epay?{notify_query(shop, order_no)}", None, 200)
            != b"success"
        ):
            raise RuntimeError(f"notify of {order_no} not acknowledged")

    return {
        "list": lambda _: expect("GET", "/api/shop/products", None, 200),
        "create": lambda _: create(ORDER),
        "create_pw": lambda _: create(WITH_PASSWORD),
        "notify": notify,
    }


# -- the run ----------------------------------------------------------------------------


async def measure(
    args: argparse.Namespace, name: str, workers: list[Callable[[Any], Awaitable[Any]]],
    items: list[Any] | None,
) -> tuple[Phase[Any], Phase[Any]]:  # fmt: skip
    """Warm-up then measured phase; ``items`` None means N anonymous operations."""
    warm_items = items[: args.warmup] if items is not None else range(args.warmup)
    measured = items[args.warmup :] if items is not None else range(args.orders)
    warm = await load.run(f"{name} warm-up", warm_items, workers, seconds=args.seconds / 3)
    await asyncio.to_thread(setup.settle, args.url)
    phase = await load.run(name, list(measured)[: args.orders], workers, seconds=args.seconds)
    report(name, phase)
    return warm, phase


def report(name: str, phase: Phase[Any]) -> None:
    failed = f", {phase.failed} FAILED: {phase.errors}" if phase.failed else ""
    log(f"{name}: {len(phase.results)} in {phase.elapsed:.1f}s = {phase.rate:,.0f}/s{failed}")


async def bench(args: argparse.Namespace, shop: Shop) -> dict[str, tuple[Phase[Any], Phase[Any]]]:
    # Keys: one per order paid by either side (warm-up + measured) and the captured one.
    await setup.seed(shop, keys=2 * (args.warmup + args.orders) + 100)
    capture.distinct_ids(shop.url)
    captured = Captured()
    await captured.run(shop)
    log("captured the app's statements: " + ", ".join(
        f"{path} {len(r.statements)}" for path, r in captured.requests.items()))  # fmt: skip
    results: dict[str, tuple[Phase[Any], Phase[Any]]] = {}
    with setup.app_server(shop, workers=args.workers, pool_size=args.concurrency) as base:
        clients = [Client(base) for _ in range(args.concurrency)]
        try:
            http = [http_ops(c, shop) for c in clients]
            orders: dict[str, list[Any]] = {}
            for path in PATHS:
                items = orders.get("kameng") if path == "notify" else None
                warm, kameng = await measure(args, f"kameng {path}", [o[path] for o in http], items)
                ref_warm, ref = await reference_side(args, shop, captured, path, orders)
                if path == "create":
                    orders["kameng"] = warm.results + kameng.results
                    orders["reference"] = ref_warm.results + ref.results
                if path == "notify":
                    args.paid += sum(len(p.results) for p in (warm, kameng, ref_warm, ref))
                results[path] = (kameng, ref)
        finally:
            for client in clients:
                await client.close()
    return results


async def reference_side(
    args: argparse.Namespace, shop: Shop, captured: Captured, path: str,
    orders: dict[str, list[Any]],
) -> tuple[Phase[Any], Phase[Any]]:  # fmt: skip
    """The captured statements of ``path``, replayed by as many processes as the server has."""
    if path == "notify":
        paying = orders["reference"]
        warm_items, measured_items = paying[: args.warmup], paying[args.warmup :][: args.orders]
    else:
        warm_items, measured_items = [None] * args.warmup, [None] * args.orders
    await asyncio.to_thread(setup.settle, args.url)
    warm, phase = await asyncio.to_thread(
        reference.run, shop.url, captured.requests[path], captured.order_no.get(path),
        processes=args.workers, connections=args.concurrency, warm=warm_items,
        measured=measured_items, seconds=args.seconds,
    )  # fmt: skip
    report(f"reference {path}", phase)
    return warm, phase


def table(
    args: argparse.Namespace, shop: Shop, results: dict[str, tuple[Phase[Any], Phase[Any]]]
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"kameng bench, {when}: PostgreSQL {shop.server_version}, {os.cpu_count()} cores shared by "
        f"PostgreSQL, {args.workers} uvicorn worker(s) and the load generator",
        f"concurrency {args.concurrency}, N={args.orders} or {args.seconds:g} s per phase, "
        f"warm-up {args.warmup}; reference = the app's captured statements replayed "
        f"through psycopg"
        f" by {args.workers} process(es)",
        "",
        f"{'path':<31}{'kameng req/s':>13}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'reference TPS':>15}{'ratio':>8}",
    ]
    for path, (kameng, ref) in results.items():
        lines.append(
            f"{PATHS[path]:<31}{kameng.rate:>13,.0f}{kameng.ms(50):>9.1f}{kameng.ms(99):>9.1f}"
            f"{ref.rate:>15,.0f}{kameng.rate / ref.rate if ref.rate else 0:>8.2f}"
        )
    with_pw, without = results["create_pw"][0].rate, results["create"][0].rate
    share = with_pw / without if without else 0.0
    verdict = "met" if share >= PASSWORD_GOAL else "NOT met"
    lines.append(
        "(the shop serves the product list from its catalogue snapshot, refreshed at most\n"
        " every KAMENG_CATALOG_CACHE_SECONDS; the reference runs one refresh's statements)"
    )
    lines.append(
        f"\ncreate with password / without: {share:.2f} (goal ≥ {PASSWORD_GOAL}: {verdict})"
    )
    failed = [
        f"{side} {path} {phase.failed}"
        for path, pair in results.items()
        for side, phase in zip(("kameng", "reference"), pair, strict=True)
        if phase.failed
    ]
    lines.append(f"failures: {', '.join(failed) or 'none'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("WARNING", stream=sys.stderr)  # the in-process capture logs too
    started = time.perf_counter()
    with setup.bench_database() as shop:
        args.url, args.paid = shop.url, 1  # the captured notify paid one order
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            results = runner.run(bench(args, shop))
        delivered, wrong = setup.delivery_check(shop.url)
    sys.stdout.write(table(args, shop, results))
    sys.stdout.write(
        f"orders paid: {args.paid}, delivered: {delivered}, "
        f"delivered without exactly their keys: {wrong}\n"
    )
    log(f"done in {time.perf_counter() - started:.0f}s")
    failed = any(ph.failed for pair in results.values() for ph in pair)
    return 1 if failed or wrong or delivered != args.paid else 0


if __name__ == "__main__":
    raise SystemExit(main())
