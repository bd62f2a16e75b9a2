"""A worker killed (SIGKILL) between "sent" and the supplier's answer: after a
restart the order ends delivered, and the supplier received it exactly once.

No shop is listening for the callback here, so only the restarted worker's
query can finish the order; it asks, it does not send again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from kameng.config import PROJECT_ROOT, Settings
from kameng.db.connection import Conn, fetch_one, transaction
from kameng.fulfilment.supply.tasks import sweep_due
from kameng.models.vocabulary import OrderStatus
from tests.supply.harness import (
    Sandbox,
    attempts,
    current,
    paid_topup,
    setup_suppliers,
    supply_config,
)

NOBODY = "http://127.0.0.1:9"  # the shop's public URL: callbacks go nowhere


def start_worker(
    database_url: str, scale: float, public_url: str = NOBODY, ready_file: Path | None = None
) -> subprocess.Popen[bytes]:
    """``ready_file`` is written once the worker has opened its runtime."""
    extra = {"SUPPLY_TEST_READY_FILE": str(ready_file)} if ready_file else {}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.supply.worker_process", database_url, public_url, str(scale)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **extra},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_for(condition: Callable[[], Awaitable[bool]], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.1)


async def test_worker_killed_after_sending_then_restarted_delivers_once(
    pool: AsyncConnectionPool[Conn], settings: Settings, database_url: str, sandbox: Sandbox
) -> None:
    shop = settings.model_copy(update={"public_url": NOBODY})
    await setup_suppliers(pool, supply_config(shop), sandbox.url, a_code="a-hang")
    # The placement hangs 300 × 0.01 + 1 s before answering; the order exists at
    # the supplier from the first moment, and is done after 3 s.
    sandbox.behave("timeout", product="a-hang", seconds=300)
    worker = start_worker(database_url, 0.01)
    try:
        order = await paid_topup(pool, shop)  # defers the job the worker takes

        async def sent_and_received() -> bool:
            return await attempts(pool, order) == [("A", "sent", False)] and bool(
                sandbox.received(order.order_no)
            )

        await wait_for(sent_and_received)
    finally:
        os.kill(worker.pid, signal.SIGKILL)  # between "sent" and the answer
        worker.wait()
    assert worker.returncode == -signal.SIGKILL
    assert (await current(pool, order.order_no)).status == OrderStatus.FULFILLING

    restarted = start_worker(database_url, 0.01)
    try:
        # The killed worker's job stays "doing"; the minute sweep finds the order.
        await sweep_due(pool)

        async def final() -> bool:
            return (await current(pool, order.order_no)).status in (
                OrderStatus.DELIVERED,
                OrderStatus.FAILED,
            )

        await wait_for(final)
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)
    assert (await current(pool, order.order_no)).status == OrderStatus.DELIVERED
    assert sandbox.placed(order.order_no) == 1
    assert len(sandbox.received(order.order_no)) == 1
    assert await attempts(pool, order) == [("A", "succeeded", False)]
    async with transaction(pool) as conn:
        sent = await fetch_one(
            conn,
            "SELECT count(*) FROM order_events "
            "WHERE order_id = %(o)s AND type = 'sent_to_supplier'",
            {"o": order.id},
        )
    assert sent[0] == 1
