"""What a supplier adapter is, and the answers it gives, in the engine's words.

An adapter only talks to its supplier: it never touches the database, and it
never raises for what the supplier says or fails to say. Anything it cannot
read as a definite answer is ``UNKNOWN`` (a timeout, a 5xx, garbage): the
order may have been taken, so the engine only asks again, never re-sends
elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class Outcome(StrEnum):
    PROCESSING = "processing"  # taken; the result comes by callback or query
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # taken and failed finally
    REFUSED = "refused"  # not taken (maintenance, balance, price): nothing was bought
    NOT_FOUND = "not_found"  # query: the supplier has no such order
    UNKNOWN = "unknown"  # no usable answer


@dataclass(frozen=True, slots=True)
class Card:
    number: str
    password: str


@dataclass(frozen=True, slots=True)
class SupplierAnswer:
    outcome: Outcome
    supplier_order_no: str | None = None
    message: str = ""
    voucher: str | None = None  # a top-up's receipt from the supplier
    cards: tuple[Card, ...] = ()
    retry_after: datetime | None = None  # REFUSED: e.g. the end of a maintenance
    price_cents: int | None = None
    reason: str = ""  # machine word: maintenance, balance, price, timeout, garbage, …
    latency_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlaceRequest:
    request_no: str  # our order number: the idempotency key at the supplier
    supplier_sku: str
    kind: str  # "topup" or "card"
    quantity: int
    account: dict[str, str]  # the buyer's fields (top-up); empty for cards
    max_price_cents: int  # what we agreed to pay per unit
    notify_url: str


@dataclass(frozen=True, slots=True)
class SupplierEndpoint:
    """A supplier row as an adapter needs it (secret already opened)."""

    code: str
    base_url: str
    merchant_id: str
    secret: str


class SupplierAdapter(Protocol):
    async def place(self, endpoint: SupplierEndpoint, request: PlaceRequest) -> SupplierAnswer: ...

    async def query(self, endpoint: SupplierEndpoint, request_no: str) -> SupplierAnswer: ...

    async def balance(self, endpoint: SupplierEndpoint) -> int | None:
        """Cents, or None when the supplier did not answer."""
        ...

    def verify_callback(
        self, endpoint: SupplierEndpoint, params: dict[str, str]
    ) -> SupplierAnswer | None:
        """The callback's answer if its signature is good, else None."""
        ...
