"""What epay V1 and V2 query answers have in common once their envelope
(code, signature) has been checked: the order they name and its payment."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from datetime import date, timedelta
from typing import Any

import httpx

from kameng.kit.money import MoneyFormatError, parse_yuan
from kameng.payments.gateways.base import BillLine, GatewayUnavailable, VerifiedNotify

BILL_PAGE = 50  # the order list's page size limit (V1 act=orders, V2 api/merchant/orders)
BILL_MAX_PAGES = 200
_OUT_TRADE_NO = re.compile(r"^[a-zA-Z0-9._\-|]{1,64}$")


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


def bill_line(row: Any, pid: str) -> BillLine | None:
    """A paid (1) or refunded (2) trade of this merchant from an order list;
    None for anything else. ``refundmoney`` (V2) becomes the refunded total."""
    if not isinstance(row, dict) or str(row.get("status")) not in ("1", "2"):
        return None
    if str(row.get("pid")) != pid:
        return None
    out_trade_no, trade_no = str(row.get("out_trade_no") or ""), str(row.get("trade_no") or "")
    end = str(row.get("endtime") or "")
    try:
        cents = parse_yuan(str(row.get("money", "")))
        paid_on = date.fromisoformat(end[:10])
        refunded = None if "refundmoney" not in row else parse_yuan(str(row["refundmoney"]))
    except (MoneyFormatError, ValueError):
        return None
    if not _OUT_TRADE_NO.match(out_trade_no) or not trade_no or len(trade_no) > 64:
        return None
    raw = {k: str(v) for k, v in row.items() if k != "key"}
    return BillLine(out_trade_no, trade_no, cents, paid_on, raw, refunded_cents=refunded)


def older_than(row: dict[str, Any], day: date) -> bool:
    """Created before the day before ``day`` (a trade may be paid the day after it
    was created): pages are newest first, so later pages are older still."""
    try:
        return date.fromisoformat(str(row.get("addtime") or "")[:10]) < day - timedelta(days=1)
    except ValueError:
        return False


async def json_object(sent: Awaitable[httpx.Response]) -> dict[str, Any]:
    """The JSON object an epay API answered; no answer, or one that is not a JSON
    object, is GatewayUnavailable (the job asks again later)."""
    try:
        response = await sent
        answer: Any = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise GatewayUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(answer, dict):
        raise GatewayUnavailable("answer is not a JSON object")
    return answer


def collect_bill_page(answer: dict[str, Any], pid: str, day: date, lines: list[BillLine]) -> bool:
    """Add the lines of ``day`` in one page of the order list (newest first) to
    ``lines``; True when no later page can hold any (short page, or all older)."""
    rows = answer.get("data") or []
    if not isinstance(rows, list):
        raise GatewayUnavailable("orders: data is not a list")
    for row in rows:
        line = bill_line(row, pid)
        if line is not None and line.paid_on == day:
            lines.append(line)
    dicts = [r for r in rows if isinstance(r, dict)]
    return len(rows) < BILL_PAGE or all(older_than(r, day) for r in dicts)
