"""Carrying refunds out at the gateway.

``execute_refund`` (deferred by ``request_refund`` in the same transaction)
marks the refund submitted under its row lock, commits, calls the gateway with
no lock held, then records the answer under the lock again. Each attempt has
its own number at the gateway (``…R01``, then ``…R01-2`` …): a repeated number
moves no money twice where the gateway is idempotent, and a refused attempt is
retried under a new one. A lost answer is never simply re-sent: the refund
stays ``submitted`` and ``sweep_refunds`` asks the gateway about that number;
only "never heard of it" makes it fail and be retried. A gateway that cannot
be asked (epay V1) leaves it to an operator.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from procrastinate import JobContext
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn, transaction
from kameng.db.jobs import JobName, app, defer, deps, periodic_job
from kameng.kit import clock
from kameng.models.vocabulary import Actor, RefundState
from kameng.payments.gateways.base import (
    GatewayUnavailable,
    RefundAnswer,
    RefundingGateway,
    RefundOutcome,
    RefundRequest,
)
from kameng.payments.gateways.registry import GatewayJobDeps, GatewayRegistry
from kameng.payments.refunds import repository as job_sql
from kameng.refunds import repository
from kameng.refunds.repository import RefundRow
from kameng.refunds.states import retry_at, transition

log = structlog.get_logger()

NO_REFUND_API_WAIT = timedelta(hours=6)
ASK_AFTER = timedelta(minutes=1)  # a submitted refund not settled after this is queried
BATCH = 200


@app.task(name=JobName.EXECUTE_REFUND.value, queue="payments", pass_context=True)
async def execute_refund(context: JobContext, refund_id: int) -> None:
    needs: GatewayJobDeps = deps(context)
    now = clock.now()
    async with transaction(needs.pool) as conn:
        refund = await repository.lock(conn, refund_id)
        if refund is None or refund.state not in (RefundState.REQUESTED, RefundState.FAILED):
            return  # done, or in flight
        if refund.next_attempt_at is not None and refund.next_attempt_at > now:
            return  # not due yet; the sweep defers it again when it is
        prepared = await _prepare(conn, needs.gateways, refund, refund.attempts + 1)
        if isinstance(prepared, str):
            await job_sql.postpone(
                conn, refund.id, until=now + NO_REFUND_API_WAIT, error=prepared, now=now
            )
            log.warning("refund waits for an operator", refund_no=refund.refund_no, why=prepared)
            return
        gateway, request = prepared
        await transition(
            conn, refund_id=refund.id, to=RefundState.SUBMITTED, actor=Actor.SYSTEM, now=now
        )
    try:
        answer = await gateway.refund(request)
    except GatewayUnavailable as exc:
        answer = None
        error = str(exc)
    async with transaction(needs.pool) as conn:
        refund = await repository.lock(conn, refund_id)
        if refund is None or refund.state != RefundState.SUBMITTED:
            return
        if answer is None:
            # Maybe refunded, maybe not: re-sending blindly could pay the buyer twice.
            await job_sql.note(conn, refund.id, error=f"no answer: {error}", now=clock.now())
            return
        await apply_answer(conn, refund, answer)


def attempt_number(refund_no: str, attempt: int) -> str:
    """The number the gateway knows attempt ``attempt`` (from 1) of a refund by."""
    return refund_no if attempt <= 1 else f"{refund_no}-{attempt}"


async def _prepare(
    conn: Conn, registry: GatewayRegistry, refund: RefundRow, attempt: int
) -> tuple[RefundingGateway, RefundRequest] | str:
    payment = await repository.payment(conn, refund.payment_id)
    assert payment is not None  # refunds.payment_id is a foreign key
    gateway = registry.get(payment.gateway)
    if gateway is None:
        return f"gateway {payment.gateway} is not configured"
    if not isinstance(gateway, RefundingGateway):
        return f"gateway {payment.gateway} has no refund API here: refund by hand"
    request = RefundRequest(
        order_no=await job_sql.order_no_of(conn, refund.order_id),
        trade_no=payment.trade_no,
        refund_no=attempt_number(refund.refund_no, attempt),
        amount_cents=refund.amount_cents,
        paid_cents=payment.amount_cents,
        reason=refund.reason,
    )
    return gateway, request


async def apply_answer(conn: Conn, refund: RefundRow, answer: RefundAnswer) -> None:
    """Record the gateway's answer on a submitted refund (row locked by the caller)."""
    now = clock.now()
    if answer.outcome == RefundOutcome.SUCCEEDED:
        await transition(
            conn,
            refund_id=refund.id,
            to=RefundState.SUCCEEDED,
            actor=Actor.GATEWAY,
            now=now,
            gateway_refund_no=answer.gateway_refund_no,
        )
        log.info("refund succeeded", refund_no=refund.refund_no)
    elif answer.outcome == RefundOutcome.REFUSED:
        await record_failure(conn, refund, answer.detail or "refused by the gateway")
    else:  # PENDING (or UNKNOWN right after submitting): ask again later
        await job_sql.note(conn, refund.id, error=answer.detail or answer.outcome.value, now=now)


async def record_failure(conn: Conn, refund: RefundRow, error: str) -> None:
    now = clock.now()
    again = retry_at(refund.attempts, now)
    await transition(
        conn,
        refund_id=refund.id,
        to=RefundState.FAILED,
        actor=Actor.GATEWAY,
        now=now,
        next_attempt_at=again,
        error=error,
    )
    if again is None:
        await transition(
            conn, refund_id=refund.id, to=RefundState.GIVEN_UP, actor=Actor.SYSTEM, now=now
        )
        log.error("refund given up", refund_no=refund.refund_no, error=error)
    else:
        log.warning("refund failed", refund_no=refund.refund_no, error=error, retry_at=again)


@periodic_job(
    "payments.sweep_refunds", cron="* * * * *", queue="payments", periodic_id="sweep-refunds"
)
async def sweep_refunds(context: JobContext, timestamp: int) -> None:
    """Defer the retries that are due; ask the gateway about unsettled refunds."""
    needs: GatewayJobDeps = deps(context)
    now = clock.now()
    async with transaction(needs.pool) as conn:
        for refund_id in await repository.due_ids(conn, now=now, limit=BATCH):
            await defer(
                conn,
                JobName.EXECUTE_REFUND,
                queueing_lock=f"refund:{refund_id}",
                refund_id=refund_id,
            )
        waiting = await repository.submitted_before(conn, before=now - ASK_AFTER, limit=BATCH)
    for refund_id in waiting:
        try:
            await settle_submitted(needs.pool, needs.gateways, refund_id)
        except Exception:  # one refund's trouble never stops the others
            log.exception("refund query failed", refund_id=refund_id)


async def settle_submitted(
    pool: AsyncConnectionPool[Conn], registry: GatewayRegistry, refund_id: int
) -> None:
    """Ask the gateway about one submitted refund and record its answer."""
    async with transaction(pool) as conn:
        refund = await repository.get(conn, refund_id)
        if refund is None or refund.state != RefundState.SUBMITTED:
            return
        prepared = await _prepare(conn, registry, refund, refund.attempts)
    if isinstance(prepared, str):
        return
    gateway, request = prepared
    try:
        answer = await gateway.query_refund(request)
    except GatewayUnavailable as exc:
        log.warning("refund query unanswered", refund_no=refund.refund_no, error=str(exc))
        return
    async with transaction(pool) as conn:
        locked = await repository.lock(conn, refund_id)
        if locked is None or locked.state != RefundState.SUBMITTED:
            return
        if answer.outcome == RefundOutcome.UNKNOWN:
            # The request never reached the gateway: trying again is safe.
            await record_failure(conn, locked, "the gateway has no record of this refund")
            return
        await apply_answer(conn, locked, answer)
