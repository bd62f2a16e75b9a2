"""The reference side in as many processes as the server has workers.

One Python process cannot drive PostgreSQL as hard as two server processes
do: a single-process reference would measure the load generator, not the
database. So the captured statements are replayed by P processes, C/P
connections each, all starting their measured phase together (a barrier).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import uvloop

from benchlib import capture, load
from benchlib.capture import Request
from benchlib.load import Phase
from kameng.kit import order_numbers


def _op(conn: Any, request: Request, captured_order: str | None) -> Callable[[Any], Awaitable[Any]]:
    async def run(item: Any) -> Any:
        # None: a create (a fresh order number) or the product list; else the order to pay
        new = order_numbers.generate() if item is None else item
        await capture.replay(conn, request, {captured_order: new} if captured_order else {})
        return new

    return run


async def _child(
    url: str, request: Request, captured_order: str | None, connections: int,
    warm: Sequence[Any], measured: Sequence[Any], seconds: float, barrier: Any,
) -> tuple[Phase[Any], Phase[Any]]:  # fmt: skip
    conns = [await capture.connect(url) for _ in range(connections)]
    try:
        ops = [_op(c, request, captured_order) for c in conns]
        warm_phase = await load.run("warm-up", warm, ops, seconds=seconds / 3)
        await asyncio.to_thread(barrier.wait)
        return warm_phase, await load.run("measured", measured, ops, seconds=seconds)
    finally:
        for conn in conns:
            await conn.close()


def _main(queue: Any, *args: Any) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        queue.put(runner.run(_child(*args)))


def run(
    url: str, request: Request, captured_order: str | None, *, processes: int, connections: int,
    warm: Sequence[Any], measured: Sequence[Any], seconds: float,
) -> tuple[Phase[Any], Phase[Any]]:  # fmt: skip
    """Warm-up and measured phase over ``processes`` processes; figures combined."""
    ctx = multiprocessing.get_context("spawn")
    queue, barrier = ctx.Queue(), ctx.Barrier(processes)
    per = max(1, connections // processes)
    children = []
    for i in range(processes):
        shares = (warm[i::processes], measured[i::processes])
        args = (queue, url, request, captured_order, per, *shares, seconds, barrier)
        children.append(ctx.Process(target=_main, args=args))
    for child in children:
        child.start()
    parts = [queue.get(timeout=10 * seconds + 300) for _ in children]
    for child in children:
        child.join()
    return _combine([w for w, _ in parts]), _combine([m for _, m in parts])


def _combine(parts: list[Phase[Any]]) -> Phase[Any]:
    whole: Phase[Any] = Phase("reference")
    for part in parts:
        whole.results += part.results
        whole.latencies += part.latencies
        whole.errors += part.errors
        whole.failed += part.failed
        whole.elapsed = max(whole.elapsed, part.elapsed)
    return whole
