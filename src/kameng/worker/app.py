"""The procrastinate app.

Jobs are deferred on the caller's own database connection (``defer``), so a
job exists if and only if the state change that asked for it committed.
"""

from __future__ import annotations

import time
from typing import Any

import procrastinate
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn, make_pool
from kameng.worker.context import set_pool

job_log = structlog.get_logger("kameng.job")

TASK_MODULES = ["kameng.orders.tasks", "kameng.fulfilment.tasks", "kameng.payments.tasks"]


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


# The connector gets its pool at process start (open_app); deferring inside a
# business transaction needs no pool at all, only that transaction's connection.
app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(),
    import_paths=TASK_MODULES,
    worker_defaults={"worker_middleware": [log_job]},
)


async def open_app(database_url: str, *, size: int = 6) -> AsyncConnectionPool[Conn]:
    """Open the job app on ``database_url``: one pool for the queue and the jobs."""
    pool = make_pool(database_url, size=size)
    await pool.open()
    set_pool(pool)
    await app.open_async(pool)
    return pool


async def close_app(pool: AsyncConnectionPool[Conn]) -> None:
    await app.close_async()
    await pool.close()


async def defer(
    connection: AsyncConnection[Any],
    task: Any,
    *,
    queueing_lock: str | None = None,
    **kwargs: int | str,
) -> None:
    """Defer ``task`` inside the transaction that ``connection`` is in."""
    configured = task.configure(connection=connection, queueing_lock=queueing_lock)
    try:
        # A savepoint: a refused duplicate must not abort the caller's transaction.
        async with connection.transaction():
            await configured.defer_async(**kwargs)
    except procrastinate.exceptions.AlreadyEnqueued:
        # Same job already waiting: that one will do the work.
        pass
