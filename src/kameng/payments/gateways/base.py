"""The gateway adapter protocol. Order code talks only to this."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl

from kameng.models.vocabulary import NotifyVerdict


@dataclass(frozen=True, slots=True)
class PayRequest:
    order_no: str
    amount_cents: int
    subject: str
    notify_url: str
    return_url: str
    # The shop's own page that starts paying, for gateways that need a
    # server-side call first (WeChat Pay creates the order over HTTP).
    start_url: str = ""


@dataclass(frozen=True, slots=True)
class InboundNotify:
    """One notify request exactly as it reached us, before anything trusts it.

    Gateways sign different parts: epay V1/V2 the query or form fields, Alipay
    the form fields, WeChat Pay v3 headers plus the raw JSON body. The adapter
    picks what its protocol signs. ``headers`` keys are lower-case.
    """

    method: str
    headers: Mapping[str, str] = field(default_factory=dict)
    raw_query: str = ""
    body: bytes = b""
    remote_addr: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_request(
        cls,
        *,
        method: str,
        headers: Mapping[str, str],
        raw_query: str,
        body: bytes,
        remote_addr: str | None,
    ) -> InboundNotify:
        lowered = {k.lower(): v for k, v in headers.items()}
        form: list[tuple[str, str]] = []
        if method == "POST" and "form-urlencoded" in lowered.get("content-type", ""):
            form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return cls(
            method=method,
            headers=lowered,
            raw_query=raw_query,
            body=body,
            remote_addr=remote_addr,
            query=tuple(parse_qsl(raw_query, keep_blank_values=True)),
            form=tuple(form),
        )

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def params(self) -> dict[str, str]:
        """Query and form fields together; empty when a field came twice (ambiguous:
        which one did the gateway sign?), which every adapter judges malformed."""
        pairs = [*self.query, *self.form]
        params = dict(pairs)
        return params if len(params) == len(pairs) else {}

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class NotifyAck:
    """The HTTP answer a gateway expects to a notify."""

    status_code: int
    body: bytes
    media_type: str = "text/plain; charset=utf-8"


def text_ack(acknowledged: bool) -> NotifyAck:
    """epay and Alipay: the body ``success`` stops retries, anything else asks for one."""
    return NotifyAck(200, b"success" if acknowledged else b"fail")


@dataclass(frozen=True, slots=True)
class VerifiedNotify:
    """A notify whose signature and merchant were checked; amounts in cents."""

    out_trade_no: str
    trade_no: str
    amount_cents: int
    method: str
    # A one-time value the service must record and refuse a second time
    # (WeChat Pay's Wechatpay-Nonce); None for protocols without one.
    replay_nonce: str | None = None


class NotifyRejected(Exception):
    """The notify is not trustworthy; ``verdict`` is recorded with it."""

    def __init__(
        self,
        verdict: NotifyVerdict,
        detail: str,
        *,
        out_trade_no: str | None = None,
        trade_no: str | None = None,
        order_id: int | None = None,
    ) -> None:
        super().__init__(f"{verdict.value}: {detail}")
        self.verdict = verdict
        self.detail = detail
        self.out_trade_no = out_trade_no
        self.trade_no = trade_no
        self.order_id = order_id

    @classmethod
    def naming(
        cls, params: Mapping[str, str], verdict: NotifyVerdict, detail: str
    ) -> NotifyRejected:
        """A rejection recording the order and trade numbers a form notify names
        (cut to the columns' 64 characters; absent ones as None)."""
        return cls(
            verdict,
            detail,
            out_trade_no=(params.get("out_trade_no") or "")[:64] or None,
            trade_no=(params.get("trade_no") or "")[:64] or None,
        )


class GatewayUnavailable(Exception):
    """The gateway could not be asked, or answered something we cannot trust."""


class Gateway(Protocol):
    name: str  # the instance name orders refer to, e.g. "epay"
    title: str  # msgid of the name buyers see, e.g. N_("Epay")
    # pay_url() sends the buyer straight to the gateway (epay V1, Alipay), not
    # through the shop's /o/{no}/pay: handing it out starts the 主动查单 schedule.
    direct_pay_link: bool

    def pay_url(self, request: PayRequest) -> str: ...

    def parse_notify(self, notify: InboundNotify) -> VerifiedNotify:
        """Verify and read one notify; raises NotifyRejected (never anything else
        for bad input: a crash here would make the gateway retry forever)."""
        ...

    def notify_ack(self, acknowledged: bool, verdict: NotifyVerdict) -> NotifyAck:
        """The answer telling the gateway to stop (acknowledged) or to retry."""
        ...

    async def query(self, order_no: str) -> VerifiedNotify | None:
        """主动查单: the gateway's own word on the order. None = not paid (or
        never opened at the gateway); raises GatewayUnavailable when unsure."""
        ...


class RefundOutcome(StrEnum):
    SUCCEEDED = "succeeded"  # the money went back
    PENDING = "pending"  # accepted; ask again later (query_refund)
    REFUSED = "refused"  # the gateway said no: retried later with the same refund number
    UNKNOWN = "unknown"  # the gateway has no record of this refund number (query only)


@dataclass(frozen=True, slots=True)
class RefundRequest:
    order_no: str  # our out_trade_no
    trade_no: str  # the gateway's trade being refunded
    refund_no: str  # our refund number: the gateway refunds it at most once (where it can)
    amount_cents: int
    paid_cents: int  # the trade's total (WeChat Pay wants it with every refund)
    reason: str


@dataclass(frozen=True, slots=True)
class RefundAnswer:
    outcome: RefundOutcome
    gateway_refund_no: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class VerifiedRefundNotify:
    """A refund notify whose signature and merchant were checked: the gateway's
    word on one refund request (our ``out_refund_no``)."""

    out_refund_no: str
    out_trade_no: str
    trade_no: str
    gateway_refund_no: str
    amount_cents: int
    outcome: RefundOutcome  # SUCCEEDED, or REFUSED (the money stayed with the shop)
    replay_nonce: str | None = None


@runtime_checkable
class RefundNotifyGateway(Protocol):
    """A gateway that tells the shop when a refund settled (WeChat Pay v3)."""

    name: str

    def parse_refund_notify(self, notify: InboundNotify) -> VerifiedRefundNotify:
        """Verify and read one refund notify; raises NotifyRejected only."""
        ...

    def notify_ack(self, acknowledged: bool, verdict: NotifyVerdict) -> NotifyAck: ...


@runtime_checkable
class RefundingGateway(Protocol):
    """A gateway whose refund API the shop drives (a separate protocol: a
    gateway without one still takes payments; its refunds wait for an operator)."""

    name: str

    async def refund(self, request: RefundRequest) -> RefundAnswer:
        """Ask for the refund; raises GatewayUnavailable when the answer is unknown."""
        ...

    async def query_refund(self, request: RefundRequest) -> RefundAnswer:
        """The gateway's word on an earlier refund request; raises GatewayUnavailable."""
        ...


@dataclass(frozen=True, slots=True)
class BillLine:
    """One paid trade as the gateway's bill (对账单) shows it."""

    out_trade_no: str
    trade_no: str
    amount_cents: int
    paid_on: date  # the gateway's own day (China time)
    raw: Mapping[str, str]  # the line as received: evidence for the operator
    # What the bill says was refunded of this trade in all (epay's order list
    # carries it per trade); None when the bill lists refunds one by one instead.
    refunded_cents: int | None = None


@dataclass(frozen=True, slots=True)
class BillRefund:
    """One refund as the gateway's bill lists it (Alipay, WeChat Pay)."""

    out_trade_no: str
    trade_no: str
    refund_no: str  # the number the shop gave the gateway (out_request_no / out_refund_no)
    amount_cents: int
    raw: Mapping[str, str]


@runtime_checkable
class BillingGateway(Protocol):
    name: str

    async def bill(self, day: date) -> list[BillLine]:
        """The trades paid on ``day``; raises GatewayUnavailable when unsure."""
        ...

    async def query(self, order_no: str) -> VerifiedNotify | None: ...


@runtime_checkable
class RefundBillingGateway(Protocol):
    """A gateway whose bill lists each refund of the day (checked against ours)."""

    name: str

    async def bill_refunds(self, day: date) -> list[BillRefund]:
        """The refunds made on ``day``; raises GatewayUnavailable when unsure."""
        ...
