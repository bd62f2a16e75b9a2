"""Payment housekeeping: nonces, the raw notify log, the daily 对账.

主动查单 lives in kameng.payments.active_query."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog
from procrastinate import JobContext

from kameng.db.connection import transaction
from kameng.db.jobs import deps, periodic_job
from kameng.kit import clock
from kameng.kit.timefmt import DEFAULT_ZONE
from kameng.payments.gateways.registry import GatewayJobDeps
from kameng.payments.repository import purge_expired_nonces, purge_refused_notify_counters
from kameng.payments.repository import purge_notify_log as purge_notify_log_rows

log = structlog.get_logger()


@periodic_job(
    "payments.purge_notify_nonces",
    cron="17 * * * *",
    queue="payments",
    periodic_id="purge-notify-nonces",
    queueing_lock="purge-nonces",
)
async def purge_notify_nonces(context: JobContext, timestamp: int) -> None:
    """Forget notify nonces whose timestamps can no longer pass the freshness check."""
    needs: GatewayJobDeps = deps(context)
    async with transaction(needs.pool) as conn:
        removed = await purge_expired_nonces(conn, now=clock.now())
    log.info("notify nonces purged", removed=removed)


class NotifyLogDeps(GatewayJobDeps, Protocol):
    @property
    def notify_log_retention_days(self) -> int: ...


PURGE_BATCH = 5000


@periodic_job(
    "payments.purge_notify_log", cron="43 * * * *", queue="payments", periodic_id="purge-notify-log"
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


@periodic_job(
    "payments.reconcile_yesterday",
    cron="20 3 * * *",
    queue="payments",
    periodic_id="reconcile-yesterday",
)
async def reconcile_yesterday(context: JobContext, timestamp: int) -> None:
    """对账 of yesterday (China time) for every gateway with a bill; one
    failing gateway never stops the others (its run is stored with the error)."""
    from kameng.payments.gateways.base import BillingGateway
    from kameng.payments.reconcile.service import reconcile

    needs: GatewayJobDeps = deps(context)
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
