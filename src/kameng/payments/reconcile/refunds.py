"""对账 of refunds: the refunds a gateway's bill shows against our ``refunds``
rows. Alipay's and WeChat Pay's bills list each refund under the number the
shop gave it (``…R01``, ``…R01-2`` for a later attempt); epay's order list
only gives a trade's refunded total (V2's ``refundmoney``). Nothing is
repaired here: a refund the shop does not know, or knows differently, needs
an operator (the money has already moved)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from kameng.models.vocabulary import FindingKind, RefundState
from kameng.payments.gateways.base import BillLine, BillRefund
from kameng.payments.reconcile.repository import Finding, LocalRefund
from kameng.payments.refunds.tasks import attempt_number


def gateway_number(refund: LocalRefund) -> str:
    """The number the gateway knows the refund's latest attempt by."""
    return attempt_number(refund.refund_no, refund.attempts)


def compare_refunds(
    billed: list[BillRefund], local: list[LocalRefund], *, settled_today: set[str]
) -> list[Finding]:
    """Refunds listed one by one. ``settled_today``: gateway numbers of the local
    refunds that succeeded on the bill's day (the bill must list those)."""
    by_number = {gateway_number(r): r for r in local}
    findings: list[Finding] = []
    for line in billed:
        mine = by_number.get(line.refund_no)
        if mine is None:
            findings.append(_refund_finding(FindingKind.REFUND_UNKNOWN_HERE, line, None))
        elif mine.amount_cents != line.amount_cents:
            findings.append(_refund_finding(FindingKind.REFUND_AMOUNT_MISMATCH, line, mine))
        elif mine.state != RefundState.SUCCEEDED:
            findings.append(_refund_finding(FindingKind.REFUND_UNSETTLED_HERE, line, mine))
    listed = {line.refund_no for line in billed}
    for number in sorted(settled_today - listed):
        findings.append(
            _refund_finding(FindingKind.REFUND_MISSING_AT_GATEWAY, None, by_number[number])
        )
    return findings


def compare_refund_totals(lines: list[BillLine], local: list[LocalRefund]) -> list[Finding]:
    """Trades whose bill line carries a refunded total (epay V2): it must equal
    what we refunded successfully on that trade."""
    succeeded: dict[str, int] = defaultdict(int)
    for refund in local:
        if refund.state == RefundState.SUCCEEDED:
            succeeded[refund.trade_no] += refund.amount_cents
    findings: list[Finding] = []
    for line in lines:
        if line.refunded_cents is None or line.refunded_cents == succeeded[line.trade_no]:
            continue
        ours = [_local_json(r) for r in local if r.trade_no == line.trade_no]
        findings.append(
            Finding(
                FindingKind.REFUND_AMOUNT_MISMATCH,
                line.out_trade_no,
                line.trade_no,
                succeeded[line.trade_no],
                line.refunded_cents,
                {"bill": dict(line.raw), "local_refunds": ours},
            )
        )
    return findings


def _local_json(refund: LocalRefund) -> dict[str, Any]:
    return {
        "refund_no": gateway_number(refund),
        "amount_cents": refund.amount_cents,
        "state": refund.state.value,
        "succeeded_at": None if refund.succeeded_at is None else refund.succeeded_at.isoformat(),
    }


def _refund_finding(
    kind: FindingKind, line: BillRefund | None, local: LocalRefund | None
) -> Finding:
    evidence: dict[str, Any] = {}
    if line is not None:
        evidence["bill"] = dict(line.raw) | {"refund_no": line.refund_no}
    if local is not None:
        evidence["local"] = _local_json(local)
    if line is not None:
        order_no, trade_no = line.out_trade_no, line.trade_no
    else:
        assert local is not None
        order_no, trade_no = local.order_no, local.trade_no
    return Finding(
        kind,
        order_no,
        trade_no,
        None if local is None else local.amount_cents,
        None if line is None else line.amount_cents,
        evidence,
    )
