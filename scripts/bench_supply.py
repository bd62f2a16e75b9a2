"""Paid top-ups through the supply engine (``make bench``, after the buyer paths).

    uv run python scripts/bench_supply.py [--rate R] [--seconds S] [--workers 1,2]

For each worker-process count: a fresh database, one top-up product served by
the supplier sandbox (in this process, answering "success" at once), that many
``kameng worker`` processes; then R paid orders per second for S seconds, each
paid through the notify service (the payment's transaction defers the supply
job). Measured: paid top-ups dispatched per second (orders / time from the
first payment to the last request the supplier received) and the latency from
a payment's commit to the supplier receiving the request, p50/p99 (the goal:
p99 ≤ 1 s at 50 paid orders/s). Exit 1 when an order is not delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import uvicorn

from benchlib.setup import Shop, bench_database, log
from kameng.catalog import repository as catalog
from kameng.config import PROJECT_ROOT
from kameng.db.connection import fetch_one, make_pool, transaction
from kameng.fulfilment.supply import admin
from kameng.fulfilment.supply.setup import supply_config
from kameng.kit import clock
from kameng.kit.money import format_yuan
from kameng.kit.passwords import QueryPasswords
from kameng.models.vocabulary import ProductKind
from kameng.orders import service as orders
from kameng.payments import service as payments
from kameng.payments.gateways import epay_sign
from kameng.payments.gateways.registry import from_settings
from kameng.sandbox.supplier import create_app
from kameng.sandbox.supplier_store import SupplierStore

GOAL_P99_S = 1.0
PHONE = {"name": "phone", "label_zh": "手机号", "label_en": "Phone", "pattern": "1[0-9]{10}",
         "example": "13800138000"}  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rate", type=float, default=50, help="R: paid orders per second (50)")
    p.add_argument("--seconds", type=float, default=10, help="S: how long payments come (10)")
    p.add_argument("--workers", default="1,2", help="worker process counts (1,2)")
    return p.parse_args(argv)


def serve_sandbox(directory: Path) -> tuple[str, SupplierStore, uvicorn.Server]:
    store = SupplierStore(directory / "orders.json", {"bench": "bench-key-0123456789"})
    store.path = None  # memory only: the bench measures the shop, not the sandbox's disk
    sock_port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store), host="127.0.0.1", port=sock_port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{sock_port}", store, server


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_workers(shop: Shop, count: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, **shop.env, "DATABASE_URL": shop.url,
           "KAMENG_PUBLIC_URL": "http://127.0.0.1:9"}  # fmt: skip
    return [
        subprocess.Popen(
            [sys.executable, "-m", "kameng", "worker"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


async def run_once(args: argparse.Namespace, workers: int) -> dict[str, float]:
    with bench_database() as shop, tempfile.TemporaryDirectory() as tmp:
        sandbox_url, store, server = serve_sandbox(Path(tmp))
        settings = shop.settings()
        pool = make_pool(shop.url, size=4)
        await pool.open()
        processes = start_workers(shop, workers)
        try:
            async with transaction(pool) as conn:
                product = await catalog.insert_product(
                    conn, sku="BENCH-TOPUP", name="bench top-up", kind=ProductKind.TOPUP,
                    price_cents=1000, max_quantity=1, description="", now=clock.now(),
                )  # fmt: skip
                await catalog.set_supply_terms(
                    conn,
                    product.id,
                    buyer_fields=[PHONE],
                    sla_seconds=600,
                    refund_after_seconds=3600,
                )
                cfg = supply_config(settings)
                await admin.add(conn, cfg, code="B", name="bench", base_url=sandbox_url,
                                merchant_id="bench", secret="bench-key-0123456789", priority=1,
                                now=clock.now())  # fmt: skip
                await admin.link(conn, code="B", sku="BENCH-TOPUP", supplier_sku="x",
                                 cost_cents=1000, priority=1)  # fmt: skip
            await asyncio.sleep(3)  # the workers start
            gateway = from_settings(settings).get("epay")
            paid_at: dict[str, float] = {}
            total = int(args.rate * args.seconds)
            started = time.perf_counter()
            for i in range(total):
                due = started + i / args.rate
                if (pause := due - time.perf_counter()) > 0:
                    await asyncio.sleep(pause)
                async with transaction(pool) as conn:
                    order = await orders.create_order(
                        conn, sku="BENCH-TOPUP", quantity=1, contact=None, query_password=None,
                        passwords=QueryPasswords(b"b" * 32), gateway="epay",
                        known_gateways=["epay"], ttl=timedelta(minutes=15), now=clock.now(),
                        fields={"phone": "13800138000"},
                    )  # fmt: skip
                params = {
                    "pid": shop.env["KAMENG_EPAY_PID"], "trade_no": f"T{order.order_no}",
                    "out_trade_no": order.order_no, "type": "alipay", "name": "x",
                    "money": format_yuan(1000).rstrip("0").rstrip("."),
                    "trade_status": "TRADE_SUCCESS",
                }  # fmt: skip
                params["sign"] = epay_sign.sign(params, shop.env["KAMENG_EPAY_KEY"])
                params["sign_type"] = "MD5"
                async with transaction(pool) as conn:
                    await payments.handle_notify(
                        conn, gateway_name="epay", gateway=gateway,
                        raw=payments.RawNotify.from_request(
                            method="GET", headers={}, raw_query=urlencode(params), body=b"",
                            remote_addr="127.0.0.1",
                        ),
                        now=clock.now(),
                    )  # fmt: skip
                paid_at[order.order_no] = time.time()  # committed
            deadline = time.monotonic() + 60
            for _ in range(300):  # up to a minute for the last ones
                if len(store.orders) >= total or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            for _ in range(300):
                async with transaction(pool) as conn:
                    row = await fetch_one(
                        conn, "SELECT count(*) FROM orders WHERE status = 'delivered'"
                    )
                if row[0] == total or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            delivered = int(row[0])
        finally:
            for p in processes:
                p.send_signal(signal.SIGTERM)
            for p in processes:
                p.wait(timeout=30)
            await pool.close()
            server.should_exit = True
        received = {o.out_order_no: o.created_at for o in store.orders.values()}
        latencies = sorted(received[n] - paid_at[n] for n in paid_at if n in received)
        first, last = min(paid_at.values()), max(received.values(), default=0.0)
        return {
            "orders": float(total),
            "delivered": float(delivered),
            "dispatched_per_s": len(received) / (last - first) if last > first else 0.0,
            "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1]
            if latencies
            else float("nan"),
        }


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        log(f"supply: {workers} worker process(es), {args.rate:g} paid top-ups/s "
            f"for {args.seconds:g} s")  # fmt: skip
        rows.append((workers, asyncio.run(run_once(args, workers))))
    _say(f"\npaid top-ups at {args.rate:g}/s for {args.seconds:g} s "
          f"(payment → supplier request; goal p99 ≤ {GOAL_P99_S:g} s)")  # fmt: skip
    _say("| workers | delivered | dispatched/s | p50 ms | p99 ms |")
    _say("| --- | --- | --- | --- | --- |")
    failed = False
    for workers, r in rows:
        _say(f"| {workers} | {r['delivered']:.0f}/{r['orders']:.0f} | "
              f"{r['dispatched_per_s']:.1f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} |")  # fmt: skip
        failed |= r["delivered"] != r["orders"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
