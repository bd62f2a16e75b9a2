"""The worker's side of 主动查单: claim due orders, ask the gateway with no
transaction open, apply a confirmed payment through the notify's own path."""

from __future__ import annotations

import asyncio

import structlog
from procrastinate import JobContext

from kameng.db.connection import transaction
from kameng.db.jobs import JobName, app, deps, periodic_job
from kameng.kit import clock
from kameng.kit.logs import bind
from kameng.payments.active_query import service
from kameng.payments.active_query.repository import DueQuery
from kameng.payments.gateways.base import GatewayUnavailable
from kameng.payments.gateways.registry import GatewayJobDeps
from kameng.payments.service import settle_queried

log = structlog.get_logger()

BATCH = 200  # orders per sweep: bounded, the most overdue first
PARALLEL = 8  # gateway calls in flight per sweep


@periodic_job(
    "payments.query_pending",
    cron="* * * * *",
    queue="payments",
    periodic_id="query-pending-payments",
    queueing_lock="query-pending",
)
async def query_pending(context: JobContext, timestamp: int) -> None:
    """Ask the gateway about every order whose next query is due."""
    needs: GatewayJobDeps = deps(context)
    async with transaction(needs.pool) as conn:
        due = await service.claim_due(conn, now=clock.now(), limit=BATCH)
    found: list[str] = []
    bind(asked=len(due), found=found)  # reported in this job's "job" event
    gate = asyncio.Semaphore(PARALLEL)

    async def one(order: DueQuery) -> None:
        async with gate:
            if await _ask(needs, order):
                found.append(order.order_no)

    await asyncio.gather(*(one(order) for order in due))


@app.task(name=JobName.QUERY_ORDER.value, queue="payments", pass_context=True)
async def query_order(context: JobContext, order_id: int) -> None:
    """Ask about one order now (a buyer's visit, or a step shorter than the sweep)."""
    needs: GatewayJobDeps = deps(context)
    async with transaction(needs.pool) as conn:
        due = await service.claim_one(conn, order_id=order_id, now=clock.now())
    if due is None:
        return  # paid, over, or asked meanwhile by another job
    bind(order_no=due.order_no, found=await _ask(needs, due))


async def _ask(needs: GatewayJobDeps, order: DueQuery) -> bool:
    """True when the gateway confirmed a payment. Never raises: one failing
    gateway or order never stops the others (its next step is already set)."""
    gateway = needs.gateways.get(order.gateway)
    if gateway is None:
        return False
    try:
        verified = await gateway.query(order.order_no)
        if verified is None:
            return False
        if verified.out_trade_no != order.order_no:
            # An answer (epay V1's api.php is unsigned) counts only for the order asked about.
            raise GatewayUnavailable(f"answer names order {verified.out_trade_no}")
        async with transaction(needs.pool) as conn:
            outcome = await settle_queried(
                conn, gateway=gateway, verified=verified, now=clock.now()
            )
    except GatewayUnavailable as exc:
        log.warning("gateway query failed", order_no=order.order_no, error=str(exc))
        return False
    except Exception:
        log.exception("gateway query crashed", order_no=order.order_no)
        return False
    log.info("payment found by query", order_no=order.order_no, verdict=outcome.verdict)
    return True
