"""What epay V1 and V2 query answers have in common once their envelope
(code, signature) has been checked: the order they name and its payment."""

from __future__ import annotations

from typing import Any

from kameng.kit.money import MoneyFormatError, parse_yuan
from kameng.payments.gateways.base import GatewayUnavailable, VerifiedNotify


def paid_order(
    answer: dict[str, Any], *, order_no: str, pid: str, method: str
) -> VerifiedNotify | None:
    """The payment ``answer`` confirms for ``order_no``; None while it is not paid.

    An answer about another order or merchant, or without a usable amount or
    trade number, is not trusted at all (GatewayUnavailable)."""
    if str(answer.get("out_trade_no")) != order_no or str(answer.get("pid")) != pid:
        raise GatewayUnavailable("the answer is about another order or merchant")
    if str(answer.get("status")) != "1":
        return None
    try:
        cents = parse_yuan(str(answer.get("money", "")))
    except MoneyFormatError as exc:
        raise GatewayUnavailable(f"money {answer.get('money')!r}") from exc
    trade_no = str(answer.get("trade_no") or "")
    if not trade_no or len(trade_no) > 64:
        raise GatewayUnavailable("no trade number in the answer")
    return VerifiedNotify(
        out_trade_no=order_no,
        trade_no=trade_no,
        amount_cents=cents,
        method=str(answer.get("type") or method),
    )
