"""One reconciliation run: fetch the day's bill (no transaction open), repair
what the gateway was paid and we never heard of through the same path a notify
takes, flag the rest for an operator (refunds included: ``refunds.py``), store
the run and its findings."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn, transaction
from kameng.kit.timefmt import DEFAULT_ZONE
from kameng.models.vocabulary import FindingKind, NotifyVerdict, RefundState
from kameng.payments.gateways.base import (
    BillingGateway,
    BillLine,
    Gateway,
    GatewayUnavailable,
    RefundBillingGateway,
    VerifiedNotify,
)
from kameng.payments.reconcile import repository
from kameng.payments.reconcile.refunds import (
    compare_refund_totals,
    compare_refunds,
    gateway_number,
)
from kameng.payments.reconcile.repository import Finding, LocalPayment
from kameng.payments.service import settle_queried

_PAID = frozenset({NotifyVerdict.ACCEPTED, NotifyVerdict.ACCEPTED_LATE})


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The gateway's day (China time) as an instant range."""
    start = datetime.combine(day, time(), tzinfo=ZoneInfo(DEFAULT_ZONE))
    return start, start + timedelta(days=1)


async def reconcile(
    pool: AsyncConnectionPool[Conn], gateway: Gateway, day: date, now: datetime
) -> int:
    """Run once for ``gateway`` and ``day``; returns the stored run's id."""
    if not isinstance(gateway, BillingGateway):
        raise TypeError(f"gateway {gateway.name} has no bill")
    try:
        lines = await gateway.bill(day)
        billed_refunds = (
            await gateway.bill_refunds(day) if isinstance(gateway, RefundBillingGateway) else None
        )
    except GatewayUnavailable as exc:
        async with transaction(pool) as conn:
            return await repository.store_run(
                conn, channel=gateway.name, day=day, now=now, gateway_lines=0,
                local_payments=0, error=str(exc)[:500], findings=[],
            )  # fmt: skip
    start, end = day_bounds(day)
    async with transaction(pool) as conn:
        local_day = await repository.payments_between(
            conn, gateway=gateway.name, start=start, end=end
        )
        known = await repository.payments_by_trade(
            conn, gateway=gateway.name, trade_nos=[line.trade_no for line in lines]
        )
        trades = [line.trade_no for line in lines] + [r.trade_no for r in billed_refunds or []]
        local_refunds = await repository.refunds_of(
            conn, gateway=gateway.name, trade_nos=trades, start=start, end=end
        )
    by_trade = {p.trade_no: p for p in known}
    findings: list[Finding] = []
    for line in lines:
        local = by_trade.get(line.trade_no)
        if local is None:
            findings.append(await _repair(pool, gateway, line, now))
        elif local.amount_cents != line.amount_cents:
            findings.append(_finding(FindingKind.AMOUNT_MISMATCH, line, local))
    billed = {line.trade_no for line in lines}
    findings += [
        _finding(FindingKind.MISSING_AT_GATEWAY, None, p)
        for p in local_day
        if p.trade_no not in billed
    ]
    if billed_refunds is not None:
        settled_today = {
            gateway_number(r)
            for r in local_refunds
            if r.state == RefundState.SUCCEEDED
            and r.succeeded_at is not None
            and start <= r.succeeded_at < end
        }
        findings += compare_refunds(billed_refunds, local_refunds, settled_today=settled_today)
    findings += compare_refund_totals(lines, local_refunds)
    async with transaction(pool) as conn:
        return await repository.store_run(
            conn, channel=gateway.name, day=day, now=now, gateway_lines=len(lines),
            local_payments=len(local_day), error=None, findings=findings,
        )  # fmt: skip


async def _repair(
    pool: AsyncConnectionPool[Conn], gateway: Gateway, line: BillLine, now: datetime
) -> Finding:
    """Paid at the gateway, unknown here: the notify path decides (amount, order,
    state checks included) — the bill line names only its own order."""
    verified = VerifiedNotify(
        out_trade_no=line.out_trade_no,
        trade_no=line.trade_no,
        amount_cents=line.amount_cents,
        method="reconcile",
    )
    async with transaction(pool) as conn:
        outcome = await settle_queried(conn, gateway=gateway, verified=verified, now=now)
    kind = FindingKind.REPAIRED if outcome.verdict in _PAID else FindingKind.NOT_REPAIRED
    evidence = {"bill": dict(line.raw), "verdict": outcome.verdict.value, "detail": outcome.detail}
    return Finding(kind, line.out_trade_no, line.trade_no, None, line.amount_cents, evidence)


def _finding(kind: FindingKind, line: BillLine | None, local: LocalPayment) -> Finding:
    evidence: dict[str, object] = {
        "local": {
            "order_no": local.order_no,
            "trade_no": local.trade_no,
            "amount_cents": local.amount_cents,
            "received_at": local.received_at.isoformat(),
        }
    }
    if line is not None:
        evidence["bill"] = dict(line.raw)
    return Finding(
        kind,
        local.order_no,
        local.trade_no,
        local.amount_cents,
        None if line is None else line.amount_cents,
        evidence,
    )
