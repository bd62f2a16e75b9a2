"""Lookup: order number (also mistyped), or the payment platform's trade number.

A wrong number never shows somebody else's order: the Damm check digit tells a
typo from a real number, and near misses are offered as suggestions only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kameng.db.connection import Conn
from kameng.kit import order_numbers
from kameng.orders import repository
from kameng.orders.repository import OrderRow

MAX_QUERY = 128


class LookupKind(StrEnum):
    ORDER = "order"  # exact order number
    TRADE_NO = "trade_no"  # the payment platform's number
    SUGGESTIONS = "suggestions"  # looks like a mistyped order number
    NOT_FOUND = "not_found"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class LookupResult:
    kind: LookupKind
    normalized: str
    order: OrderRow | None = None
    suggestions: list[OrderRow] = field(default_factory=list)
    hint: str = ""  # a reason code the web layer turns into words


async def lookup(conn: Conn, query: str) -> LookupResult:
    # Control characters (NUL included) can be part of no number: drop them.
    raw = "".join(ch for ch in query if ch.isprintable()).strip()[:MAX_QUERY]
    normalized = order_numbers.normalize(raw)
    if not normalized:
        return LookupResult(LookupKind.INVALID, normalized, hint="empty")
    if order_numbers.is_valid(normalized):
        order = await repository.get_by_number(conn, normalized)
        if order is not None:
            return LookupResult(LookupKind.ORDER, normalized, order=order)
    # Trade numbers are the platform's own strings: match them as typed too.
    for candidate in dict.fromkeys((raw, normalized)):
        if 0 < len(candidate) <= 64:
            paid = await repository.find_by_trade_no(conn, candidate)
            if paid is not None:
                return LookupResult(LookupKind.TRADE_NO, normalized, order=paid)
    if normalized.isdigit():
        near = await repository.existing_numbers(conn, order_numbers.near_misses(normalized))
        if near:
            return LookupResult(
                LookupKind.SUGGESTIONS,
                normalized,
                suggestions=near,
                hint="typo" if not order_numbers.is_valid(normalized) else "",
            )
        if len(normalized) != order_numbers.LENGTH:
            return LookupResult(LookupKind.NOT_FOUND, normalized, hint="length")
        if not order_numbers.is_valid(normalized):
            return LookupResult(LookupKind.NOT_FOUND, normalized, hint="check_digit")
    return LookupResult(LookupKind.NOT_FOUND, normalized, hint="unknown")
