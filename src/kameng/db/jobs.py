"""The job queue: procrastinate, in the same PostgreSQL as the orders.

Jobs are deferred on the caller's own database connection (``defer``), so a
job exists if and only if the state change that asked for it committed.

A job gets what it works with from the worker that runs it, never from a
module global: the worker (``kameng.worker``) hands its runtime to every job
in the job's context, and a task declared with ``pass_context=True`` reads it
with ``deps(context)``, typed by a Protocol of what that task needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, Protocol

import procrastinate
from procrastinate import JobContext
from procrastinate.tasks import Task
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn

TASK_MODULES = [
    "kameng.orders.tasks",
    "kameng.fulfilment.tasks",
    "kameng.payments.tasks",
    "kameng.payments.active_query.tasks",
    "kameng.payments.refunds.tasks",
    "kameng.fulfilment.supply.tasks",
    "kameng.fulfilment.review.tasks",
    "kameng.limits.tasks",
    "kameng.receipts.tasks",
]

# The connector gets its pool when the worker opens the app; deferring inside a
# business transaction needs no pool at all, only that transaction's connection.
app = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=TASK_MODULES)

DEPS = "deps"  # the key of the worker's runtime in a job's additional context


class JobName(StrEnum):
    """Jobs deferred from a layer below the one that defines them, by name (the
    card-key import asks fulfilment to serve waiting orders). The task is
    declared with the same member; a test checks every name has its task."""

    RESTOCK = "fulfilment.fulfil_awaiting_stock"
    # kameng.refunds.service asks payments to carry a refund out at the gateway.
    EXECUTE_REFUND = "payments.execute_refund"
    # The payment's transaction (or a supplier callback) asks the supply engine to move.
    SUPPLY_ADVANCE = "supply.advance"
    # A buyer's visit (web) asks payments to query the gateway about one order now.
    QUERY_ORDER = "payments.query_order"
    # Deferred by a database trigger (migration 0019) when a receipt event is appended.
    SEND_RECEIPT = "receipts.send"


class JobDeps(Protocol):
    """What every job may use; tasks that need more declare a wider Protocol."""

    @property
    def pool(self) -> AsyncConnectionPool[Conn]: ...


def deps(context: JobContext) -> Any:
    """The worker's runtime, as handed to this job (typed by the caller's Protocol)."""
    try:
        return context.additional_context[DEPS]
    except KeyError:
        raise RuntimeError(
            "job run without the worker's runtime: run workers with "
            "WorkerRuntime.options() (kameng.worker.app)"
        ) from None


async def defer(
    connection: AsyncConnection[Any],
    task: Any,
    *,
    queueing_lock: str | None = None,
    delay_seconds: int = 0,
    **kwargs: int | str,
) -> None:
    """Defer ``task`` (a task, or a JobName) inside the transaction ``connection`` is in,
    to run at once or ``delay_seconds`` from now."""
    options: dict[str, Any] = {"connection": connection, "queueing_lock": queueing_lock}
    if delay_seconds > 0:
        options["schedule_in"] = {"seconds": delay_seconds}
    if isinstance(task, JobName):
        configured = app.configure_task(task.value, allow_unknown=False, **options)
    else:
        configured = task.configure(**options)
    try:
        # A savepoint: a refused duplicate must not abort the caller's transaction.
        async with connection.transaction():
            await configured.defer_async(**kwargs)
    except procrastinate.exceptions.AlreadyEnqueued:
        # Same job already waiting: that one will do the work.
        pass


PeriodicJob = Callable[[JobContext, int], Awaitable[None]]


def periodic_job(
    name: str,
    *,
    cron: str,
    queue: str,
    periodic_id: str,
    queueing_lock: str | None = None,
) -> Callable[[PeriodicJob], Task[..., Any, Any]]:
    """Declare a job the worker defers on the ``cron`` schedule, given its context
    (``deps``); its queueing lock (``periodic_id`` unless named) keeps one waiting
    at a time however late the workers are."""

    def declare(job: PeriodicJob) -> Task[..., Any, Any]:
        task = app.task(
            name=name,
            queue=queue,
            queueing_lock=queueing_lock or periodic_id,
            pass_context=True,
        )(job)
        return app.periodic(cron=cron, periodic_id=periodic_id)(task)

    return declare
