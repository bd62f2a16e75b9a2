"""The gateway adapter protocol. Order code talks only to this."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PayRequest:
    order_no: str
    amount_cents: int
    subject: str
    notify_url: str
    return_url: str


@dataclass(frozen=True, slots=True)
class VerifiedNotify:
    """A notify whose signature and merchant were checked; amounts in cents."""

    out_trade_no: str
    trade_no: str
    amount_cents: int
    method: str


class NotifyRejected(Exception):
    """The notify is not trustworthy; ``verdict`` is recorded with it."""

    def __init__(
        self,
        verdict: str,
        detail: str,
        *,
        out_trade_no: str | None = None,
        trade_no: str | None = None,
        order_id: int | None = None,
    ) -> None:
        super().__init__(f"{verdict}: {detail}")
        self.verdict = verdict
        self.detail = detail
        self.out_trade_no = out_trade_no
        self.trade_no = trade_no
        self.order_id = order_id


class GatewayUnavailable(Exception):
    """The gateway could not be asked, or answered something we cannot trust."""


class Gateway(Protocol):
    name: str  # the instance name orders refer to, e.g. "epay"
    title_zh: str
    title_en: str
    ack_success: str
    ack_failure: str

    def pay_url(self, request: PayRequest) -> str: ...

    def parse_notify(self, params: Mapping[str, str]) -> VerifiedNotify: ...

    async def query(self, order_no: str) -> VerifiedNotify | None:
        """主动查单: the gateway's own word on the order. None = not paid (or
        never opened at the gateway); raises GatewayUnavailable when unsure."""
        ...
