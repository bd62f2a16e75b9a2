"""Lookup: one box, whatever the buyer holds.

Order number (typed, mistyped, pasted with its label, letters for digits), the
payment platform's trade number, a card key received by mistake, a courier
tracking number. What each identifier proves decides what is shown:

- a full, valid order number: the order (status, product, timeline page);
- a trade number alone: the state and a masked order number; the full number
  with the query password, the contact, or in the browser that placed it;
- a mistyped number: the candidate numbers only, nothing about those orders;
- a card key: "this is a card you received"; which order only for its owner;
- a support ticket number: the ticket's state and a masked order number (as a
  trade number alone); the full order with the query password, the contact, or
  in the browser that placed it.

A wrong number never shows somebody else's order as a direct hit: only a
valid (Damm) number that exists is one, and near misses are suggestions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from kameng.db.connection import Conn
from kameng.kit import order_numbers
from kameng.lookup import formats
from kameng.lookup import repository as lookup_repo
from kameng.lookup.extract import extract
from kameng.models.vocabulary import OrderStatus
from kameng.orders import repository
from kameng.orders.repository import OrderRow
from kameng.tickets import numbers as ticket_numbers
from kameng.tickets import service as tickets
from kameng.tickets.repository import TicketRow

MAX_QUERY = 500
MAX_SUGGESTIONS = 5
CONTACT_PAGE = 10
CONTACT_SCAN = 200  # newest orders of one contact that a password is checked against

OwnsOrder = Callable[[str], bool]
Fingerprint = Callable[[str], bytes]
CheckPassword = Callable[[str | None, str], Awaitable[bool]]


class LookupKind(StrEnum):
    ORDER = "order"  # a valid order number that exists
    TRADE_NO = "trade_no"  # the payment platform's number
    SUGGESTIONS = "suggestions"  # looks like a mistyped order number
    CARD_KEY = "card_key"  # a card key this shop issued
    TRACKING_NO = "tracking_no"  # a courier's tracking number
    TICKET = "ticket"  # a support ticket's number (kameng.tickets)
    NOT_FOUND = "not_found"
    INVALID = "invalid"


class Hint(StrEnum):
    NONE = ""
    EMPTY = "empty"
    LENGTH = "length"
    CHECK_DIGIT = "check_digit"
    UNKNOWN = "unknown"
    TYPO = "typo"
    TRADE_UNKNOWN = "trade_unknown"  # shaped like a trade number, no payment has it
    PROOF_FAILED = "proof_failed"  # trade number found, password/contact wrong
    NO_TRACKING = "no_tracking"  # asked for a parcel; card keys have no tracking number
    TICKET_UNKNOWN = "ticket_unknown"  # shaped like a ticket number, none has it


def mask(order_no: str) -> str:
    """Enough to recognise one's own order, not enough to open it."""
    return order_no[:4] + "*" * (len(order_no) - 8) + order_no[-4:]


@dataclass(frozen=True, slots=True)
class LookupResult:
    kind: LookupKind
    normalized: str
    # Shown in full only when the identifier proves it (see module doc).
    order: OrderRow | None = None
    masked_order_no: str | None = None
    status: OrderStatus | None = None
    suggestions: list[str] = field(default_factory=list)
    hint: Hint = Hint.NONE
    courier: str | None = None
    gateways: list[str] = field(default_factory=list)
    card_order_no: str | None = None  # which order a card key belongs to (owner only)
    ticket: TicketRow | None = None  # a ticket number's ticket


@dataclass(frozen=True, slots=True)
class Proof:
    """What the asker can show besides the identifier."""

    owns: OwnsOrder = lambda _number: False
    password: str | None = None
    contact: str | None = None
    check_password: CheckPassword | None = None

    @property
    def given(self) -> bool:
        return bool(self.password or self.contact)

    async def holds_for(self, order: OrderRow) -> bool:
        if self.owns(order.order_no):
            return True
        if self.contact and order.contact and same_contact(order.contact, self.contact):
            return True
        if self.password and self.check_password is not None:
            return await self.check_password(order.query_password_hash, self.password)
        return False


def same_contact(stored: str, given: str) -> bool:
    return normalize_contact(stored) == normalize_contact(given)


def normalize_contact(contact: str) -> str:
    text = "".join(contact.split()).lower()
    digits = text.removeprefix("+86").replace("-", "")
    return digits if digits.isdigit() else text


async def lookup(
    conn: Conn, query: str, proof: Proof | None = None, *, fingerprint: Fingerprint | None = None
) -> LookupResult:
    proof = proof or Proof()
    found = extract(query[:MAX_QUERY])
    if not found.words:
        return LookupResult(LookupKind.INVALID, "", hint=Hint.EMPTY)
    primary = found.numbers[0] if found.numbers else order_numbers.normalize(found.folded)[:64]

    # 0. A support ticket's number (T + 13 digits): the ticket, its order masked.
    ticket_no = ticket_numbers.find_in(query)
    if ticket_no is not None:
        answer = await _ticket(conn, ticket_no, proof)
        if answer is not None:
            return answer

    # 1. A valid order number that exists is a direct hit.
    valid = [n for n in found.numbers if order_numbers.is_valid(n)]
    hits = await repository.existing_numbers(conn, valid) if valid else []
    if len(hits) == 1:
        asks_parcel = found.asks_tracking and hits[0].product_kind == "card_key"
        hint = Hint.NO_TRACKING if asks_parcel else Hint.NONE
        return LookupResult(LookupKind.ORDER, hits[0].order_no, order=hits[0], hint=hint)
    if len(hits) > 1:  # several numbers pasted: let the buyer choose
        return LookupResult(LookupKind.SUGGESTIONS, primary, suggestions=[o.order_no for o in hits])

    # 2. The payment platform's number, as typed or read as digits.
    trade_candidates = list(dict.fromkeys([*found.words, *found.long_numbers, *found.numbers]))
    paid = await repository.find_by_trade_no_any(
        conn, [t for t in trade_candidates if len(t) <= 64]
    )
    if paid is not None:
        if await proof.holds_for(paid):
            return LookupResult(LookupKind.TRADE_NO, primary, order=paid)
        return LookupResult(
            LookupKind.TRADE_NO,
            primary,
            masked_order_no=mask(paid.order_no),
            status=paid.status,
            hint=Hint.PROOF_FAILED if proof.given else Hint.NONE,
        )

    # 3. A mistyped order number: candidates only.
    near: list[str] = []
    for number in found.numbers:
        near.extend(order_numbers.near_misses(number))
    if near:
        existing = await repository.existing_numbers(conn, list(dict.fromkeys(near)))
        if existing:
            return LookupResult(
                LookupKind.SUGGESTIONS,
                primary,
                suggestions=[o.order_no for o in existing[:MAX_SUGGESTIONS]],
                hint=Hint.TYPO,
            )

    # 4. Wrong path: a card key this shop issued, or a courier's number.
    if fingerprint is not None:
        pieces = dict.fromkeys([found.folded, *found.chunks, *found.words])
        holder_id = await lookup_repo.card_key_order_id(
            conn, [fingerprint(p) for p in pieces if len(p) >= 4][:40]
        )
        if holder_id is not None:
            holder = await repository.get_by_id(conn, holder_id)
            owner = holder is not None and await proof.holds_for(holder)
            return LookupResult(
                LookupKind.CARD_KEY,
                "",
                card_order_no=holder.order_no if owner and holder else None,
            )
    for word in found.words:
        name = formats.courier(word)
        if name is not None:
            return LookupResult(LookupKind.TRACKING_NO, word.upper(), courier=name)

    # 5. Nothing: say why.
    if ticket_no is not None:
        return LookupResult(LookupKind.NOT_FOUND, ticket_no, hint=Hint.TICKET_UNKNOWN)
    for number in [*found.long_numbers, *[w for w in found.words if w.isdigit()]]:
        gateways = formats.trade_gateways(number)
        if gateways:
            return LookupResult(
                LookupKind.NOT_FOUND, number, hint=Hint.TRADE_UNKNOWN, gateways=gateways
            )
    if primary.isdigit():
        if len(primary) != order_numbers.LENGTH:
            return LookupResult(LookupKind.NOT_FOUND, primary, hint=Hint.LENGTH)
        if not order_numbers.is_valid(primary):
            return LookupResult(LookupKind.NOT_FOUND, primary, hint=Hint.CHECK_DIGIT)
    return LookupResult(LookupKind.NOT_FOUND, primary, hint=Hint.UNKNOWN)


async def _ticket(conn: Conn, ticket_no: str, proof: Proof) -> LookupResult | None:
    """The ticket and what the asker may see of its order; None when no ticket has
    this number (the other identifier kinds are tried next)."""
    ticket = await tickets.find(conn, ticket_no) if ticket_numbers.is_valid(ticket_no) else None
    order = await repository.get_by_id(conn, ticket.order_id) if ticket else None
    if ticket is None or order is None:
        return None
    if await proof.holds_for(order):
        return LookupResult(LookupKind.TICKET, ticket_no, order=order, ticket=ticket)
    return LookupResult(
        LookupKind.TICKET,
        ticket_no,
        masked_order_no=mask(order.order_no),
        ticket=ticket,
        hint=Hint.PROOF_FAILED if proof.given else Hint.NONE,
    )


async def orders_of_contact(
    conn: Conn, contact: str, password: str, check_password: CheckPassword, *, page: int
) -> tuple[list[OrderRow], bool]:
    """The contact's orders that this query password opens, newest first, one page.

    Returns (orders, another page exists). A contact with no orders and a wrong
    password look the same: an empty list.
    """
    newest = await repository.orders_of_contact(conn, contact, limit=CONTACT_SCAN, offset=0)
    opened = [o for o in newest if await check_password(o.query_password_hash, password)]
    start = (page - 1) * CONTACT_PAGE
    return opened[start : start + CONTACT_PAGE], len(opened) > start + CONTACT_PAGE
