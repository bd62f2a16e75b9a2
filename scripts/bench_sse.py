"""Open live timelines (SSE) one web process holds (``make bench``).

    uv run python scripts/bench_sse.py [--streams N] [--orders K]

A fresh database, one ``uvicorn`` web process; K unpaid orders; N event streams
(``/o/{no}/events``) opened over N connections, spread over the K orders, each
waited for until it says ``ready``. Then every order is paid (a signed epay
notify) and every stream must receive its ``final`` event. Reported: streams
open, the server's resident memory with them open, the time until every stream
had its delivery. Exit 1 when a stream failed to open or missed its event.
Goal: at least 1,000 open timelines per web process.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

from benchlib.setup import PRICE_CENTS, SKU, app_server, bench_database, log, seed
from kameng.payments.gateways import epay_sign

GOAL = 1000


def rss_mib(pid: int) -> float:
    """Resident memory of the process and its children (uvicorn's workers)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if int(fields["Pid"]) == pid or int(fields.get("PPid", "0")) == pid:
            total += int(fields.get("VmRSS", "0 kB").split()[0])
    return total / 1024


async def stream(client: httpx.AsyncClient, number: str, ready: asyncio.Event) -> bool:
    """True when the stream said ready and later final."""
    async with client.stream("GET", f"/o/{number}/events") as answer:
        if answer.status_code != 200:
            return False
        async for line in answer.aiter_lines():
            if line == "event: ready":
                ready.set()
            elif line == "event: final":
                return True
    return False


async def run(
    client: httpx.AsyncClient, streams: int, orders: int
) -> tuple[int, list[asyncio.Task[bool]], list[str]]:
    numbers = []
    for _ in range(orders):
        made = await client.post("/api/shop/orders", json={"product": SKU, "quantity": 1})
        numbers.append(made.json()["order_no"])
    readies = [asyncio.Event() for _ in range(streams)]
    started = time.perf_counter()
    tasks = [
        asyncio.create_task(stream(client, numbers[i % orders], readies[i])) for i in range(streams)
    ]
    try:
        async with asyncio.timeout(120):
            await asyncio.gather(*(r.wait() for r in readies))
    except TimeoutError:
        pass
    open_streams = sum(r.is_set() for r in readies)
    log(f"{open_streams}/{streams} streams ready in {time.perf_counter() - started:.1f}s")
    return open_streams, tasks, numbers


async def main_async(args: argparse.Namespace) -> int:
    with bench_database() as shop:
        await seed(shop, args.orders)
        with app_server(shop, workers=1, pool_size=10) as server:
            before = rss_mib(server.pid)
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
            client = httpx.AsyncClient(base_url=server.base, timeout=120, limits=limits)
            opened, tasks, numbers = await run(client, args.streams, args.orders)
            held = rss_mib(server.pid)
            paid_at = time.perf_counter()
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as gateway:
                for i, number in enumerate(numbers):
                    fields = {
                        "pid": shop.env["KAMENG_EPAY_PID"], "trade_no": f"2026113000{i:08d}",
                        "out_trade_no": number, "type": "alipay", "name": "bench",
                        "money": f"{PRICE_CENTS / 100:.2f}", "trade_status": "TRADE_SUCCESS",
                    }  # fmt: skip
                    fields |= {"sign": epay_sign.sign(fields, shop.env["KAMENG_EPAY_KEY"]),
                               "sign_type": "MD5"}  # fmt: skip
                    await gateway.get("/notify/epay", params=fields)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            delivered = sum(r is True for r in results)
            await client.aclose()
            spent = time.perf_counter() - paid_at
    log(
        f"open SSE timelines, one web process: {opened} of {args.streams} "
        f"(goal ≥ {GOAL}); server RSS {before:.0f} MiB idle, {held:.0f} MiB holding them; "
        f"{delivered}/{args.streams} got their delivery within {spent:.1f}s of paying "
        f"{args.orders} orders"
    )
    return 0 if opened == args.streams == delivered and opened >= GOAL else 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--streams", type=int, default=1000, help="N: open timelines (1000)")
    p.add_argument("--orders", type=int, default=20, help="K: orders they watch (20)")
    sys.exit(asyncio.run(main_async(p.parse_args())))


if __name__ == "__main__":
    main()
