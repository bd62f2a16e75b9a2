"""The worker process: opens the job queue and runs the domains' jobs.

Like the web runtime (``kameng.web.runtime``), everything a job works with is
built here, once per process, and handed to each job explicitly: procrastinate
passes ``WorkerRuntime`` in the job's context (``kameng.db.jobs.deps``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn, make_pool
from kameng.db.jobs import DEPS, app
from kameng.fulfilment.alerts import Alerts
from kameng.fulfilment.supply.config import SupplyConfig
from kameng.orders.live import TimelineHub
from kameng.payments.channels.live import LiveGateways
from kameng.payments.gateways.registry import GatewayRegistry
from kameng.receipts.tasks import ReceiptConfig

job_log = structlog.get_logger("kameng.job")


async def log_job(call_next: Any, context: Any, worker: Any) -> Any:
    """Worker middleware: one ``job`` event per job (name, ids, outcome, duration).

    Jobs take ids only, so the ids are the job's arguments; a job that works on
    orders binds ``order_no`` itself (``kameng.kit.logs.bind``).
    """
    job = context.job
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job=job.task_name, job_id=job.id)
    started = time.perf_counter()
    outcome = "error"
    try:
        result = await call_next()
        outcome = "done"
        return result
    finally:
        job_log.info(
            "job",
            args=dict(job.task_kwargs),
            outcome=outcome,
            attempts=job.attempts,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        structlog.contextvars.clear_contextvars()


@dataclass
class WorkerRuntime:
    """What the jobs of one worker process share (see the Protocols in each tasks.py)."""

    pool: AsyncConnectionPool[Conn]
    gateways: GatewayRegistry
    notify_log_retention_days: int = 30  # Settings.notify_log_retention_days
    supply: SupplyConfig | None = None  # None: supply jobs refuse to run
    alerts: Alerts = field(default_factory=Alerts)
    receipts: ReceiptConfig | None = None  # None: receipt jobs send nothing

    def options(self) -> dict[str, Any]:
        """Options for ``app.run_worker_async``: this runtime in every job's context."""
        return {"additional_context": {DEPS: self}, "worker_middleware": [log_job]}


async def open_worker(
    database_url: str,
    *,
    gateways: GatewayRegistry,
    size: int = 6,
    notify_log_retention_days: int = 30,
    supply: SupplyConfig | None = None,
    alerts: Alerts | None = None,
    receipts: ReceiptConfig | None = None,
) -> WorkerRuntime:
    """Open the job queue on ``database_url``: one pool for the queue and the jobs."""
    pool = make_pool(database_url, size=size)
    await pool.open()
    await app.open_async(pool)
    return WorkerRuntime(
        pool=pool,
        gateways=gateways,
        notify_log_retention_days=notify_log_retention_days,
        supply=supply,
        alerts=alerts or Alerts(),
        receipts=receipts,
    )


async def close_worker(runtime: WorkerRuntime) -> None:
    await app.close_async()
    await runtime.pool.close()


@contextlib.asynccontextmanager
async def follow_channels(
    gateways: LiveGateways, pool: AsyncConnectionPool[Conn], *, poll_every: float = 0.5
) -> AsyncIterator[TimelineHub]:
    """Channel changes reach the jobs as they reach the web processes: by NOTIFY
    on a listening connection of the worker's own (the channels' only, not the
    timelines'), re-read once per notification; while nothing changes, no
    statement at all. While the listener is down the version is read every
    ``poll_every`` seconds (``LiveGateways.follow``). Yields the listener."""
    listener = TimelineHub(str(pool.conninfo), followers=[gateways], timelines=False)
    listener.start()
    following = asyncio.create_task(gateways.follow(pool, interval=poll_every))
    try:
        yield listener
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        await listener.close()
