"""主动查单: a payment whose notify never arrives is found by asking the gateway."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog
from procrastinate import JobContext
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn, transaction
from kameng.db.jobs import app, deps
from kameng.kit import clock
from kameng.kit.logs import bind
from kameng.kit.timefmt import DEFAULT_ZONE
from kameng.orders import repository as orders
from kameng.payments.gateways.base import GatewayUnavailable
from kameng.payments.gateways.registry import GatewayRegistry
from kameng.payments.repository import purge_expired_nonces, purge_refused_notify_counters
from kameng.payments.repository import purge_notify_log as purge_notify_log_rows
from kameng.payments.service import settle_queried

log = structlog.get_logger()

# Ages (minutes since the order was created) at which the gateway is asked:
# often while the buyer is likely paying, then hourly for a day (epay itself
# gives up notifying after ~2 h and purges unpaid orders after 24 h).
QUERY_AGES_MINUTES = [1, 2, 3, 5, 10, 15, 20, 30, 45, *range(60, 24 * 60 + 1, 60)]
BATCH = 500


class PaymentJobDeps(Protocol):
    """What payment jobs take from the worker (kameng.worker.app.WorkerRuntime)."""

    @property
    def pool(self) -> AsyncConnectionPool[Conn]: ...

    @property
    def gateways(self) -> GatewayRegistry: ...


@app.periodic(cron="* * * * *", periodic_id="query-pending-payments")
@app.task(
    name="payments.query_pending",
    queue="payments",
    queueing_lock="query-pending",
    pass_context=True,
)
async def query_pending(context: JobContext, timestamp: int) -> None:
    """Ask the gateway about orders still unpaid at the scheduled ages.

    The HTTP call happens outside any transaction (a slow gateway must not hold
    locks); a confirmed payment is then applied under the order's row lock,
    where a notify that arrived meanwhile is seen and nothing happens twice.
    """
    needs: PaymentJobDeps = deps(context)
    async with transaction(needs.pool) as conn:
        due = await orders.awaiting_payment_aged(
            conn, now=clock.now(), ages_minutes=QUERY_AGES_MINUTES, limit=BATCH
        )
    registry = needs.gateways
    found: list[str] = []
    bind(asked=len(due), found=found)  # reported in this job's "job" event
    for order in due:
        gateway = registry.get(order.gateway)
        if gateway is None:
            continue
        try:
            verified = await gateway.query(order.order_no)
        except GatewayUnavailable as exc:
            log.warning("gateway query failed", order_no=order.order_no, error=str(exc))
            continue
        if verified is None:
            continue
        async with transaction(needs.pool) as conn:
            outcome = await settle_queried(
                conn, gateway=gateway, verified=verified, now=clock.now()
            )
        log.info("payment found by query", order_no=order.order_no, verdict=outcome.verdict)
        found.append(order.order_no)


@app.periodic(cron="17 * * * *", periodic_id="purge-notify-nonces")
@app.task(
    name="payments.purge_notify_nonces",
    queue="payments",
    queueing_lock="purge-nonces",
    pass_context=True,
)
async def purge_notify_nonces(context: JobContext, timestamp: int) -> None:
    """Forget notify nonces whose timestamps can no longer pass the freshness check."""
    needs: PaymentJobDeps = deps(context)
    async with transaction(needs.pool) as conn:
        removed = await purge_expired_nonces(conn, now=clock.now())
    log.info("notify nonces purged", removed=removed)


class NotifyLogDeps(PaymentJobDeps, Protocol):
    @property
    def notify_log_retention_days(self) -> int: ...


PURGE_BATCH = 5000


@app.periodic(cron="43 * * * *", periodic_id="purge-notify-log")
@app.task(
    name="payments.purge_notify_log",
    queue="payments",
    queueing_lock="purge-notify-log",
    pass_context=True,
)
async def purge_notify_log(context: JobContext, timestamp: int) -> None:
    """Forget raw notifies older than the retention that brought no money in,
    in short transactions (a large backlog never holds locks for long)."""
    needs: NotifyLogDeps = deps(context)
    before = clock.now() - timedelta(days=needs.notify_log_retention_days)
    removed = 0
    while True:
        async with transaction(needs.pool) as conn:
            batch = await purge_notify_log_rows(conn, before=before, limit=PURGE_BATCH)
        removed += batch
        if batch < PURGE_BATCH:
            break
    async with transaction(needs.pool) as conn:
        counters = await purge_refused_notify_counters(
            conn, before=clock.now() - timedelta(hours=1)
        )
    log.info("notify log purged", removed=removed, counters=counters, before=before.isoformat())


@app.periodic(cron="20 3 * * *", periodic_id="reconcile-yesterday")
@app.task(
    name="payments.reconcile_yesterday",
    queue="payments",
    queueing_lock="reconcile-yesterday",
    pass_context=True,
)
async def reconcile_yesterday(context: JobContext, timestamp: int) -> None:
    """对账 of yesterday (China time) for every gateway with a bill; one
    failing gateway never stops the others (its run is stored with the error)."""
    from kameng.payments.gateways.base import BillingGateway
    from kameng.payments.reconcile.service import reconcile

    needs: PaymentJobDeps = deps(context)
    yesterday = clock.now().astimezone(ZoneInfo(DEFAULT_ZONE)).date() - timedelta(days=1)
    for gateway in needs.gateways.all():
        if not isinstance(gateway, BillingGateway):
            continue
        try:
            run_id = await reconcile(needs.pool, gateway, yesterday, clock.now())
        except Exception:
            log.exception("reconciliation failed", gateway=gateway.name)
            continue
        log.info("reconciled", gateway=gateway.name, day=yesterday.isoformat(), run=run_id)
