"""What the Alipay and 易支付 V2 sandboxes do alike once a trade exists: pay it
with the outcome a test or the cashier chose, send its notify on the
gateway's retry schedule, finish a late refund, and carry on after a restart.

Each sandbox says only how its notify goes on the wire, what its merchant's
acknowledgement looks like and how its trades read "unpaid".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl

import httpx
from fastapi import Request

from kameng.sandbox.retry import Retrier

CST = timezone(timedelta(hours=8), "Asia/Shanghai")
PAY_LATER_MINUTES = 2.0
REFUND_LATE_MINUTES = 1
# What the sandbox does when a trade is paid (chosen on the cashier or by a test).
OUTCOMES = {
    "notify": "支付并通知",
    "later": "稍后支付（2 分钟后）",
    "silent": "支付但不通知（留给主动查单）",
    "twice": "支付并通知两次",
    "wrong_amount": "支付，通知金额多 0.01",
}


@dataclass
class Attempt:
    """One notify sent, as the sandbox's inspection endpoints show it."""

    at: str
    http_status: int | None
    error: str | None
    acked: bool
    body: str


class LateRefund(Protocol):
    processing: bool


class NotifiedTrade(Protocol):
    trade_no: str
    outcome: str
    notify_state: str  # none / pending / acked / gave_up / suppressed
    attempts: list[Attempt]

    @property
    def refunds(self) -> Sequence[LateRefund]: ...


T = TypeVar("T", bound=NotifiedTrade)


class TradeStore(Protocol[T]):
    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def trades(self) -> Mapping[str, T]: ...

    def save(self) -> None: ...

    def mark_paid(self, trade: T) -> bool: ...

    def finish_refund(self, trade: T, refund: Any) -> None: ...


class TradeFlow(Generic[T]):
    def __init__(
        self,
        name: str,
        store: TradeStore[T],
        retrier: Retrier,
        client: httpx.AsyncClient,
        *,
        notify_request: Callable[[httpx.AsyncClient, T], httpx.Request],
        acknowledges: Callable[[str], bool],
        unpaid: Callable[[T], bool],
        refund_task: Callable[[T, Any], str],
    ) -> None:
        self.name = name
        self.store = store
        self.retrier = retrier
        self.client = client
        self._notify_request = notify_request
        self._acknowledges = acknowledges
        self._unpaid = unpaid
        self._refund_task = refund_task

    def unpaid(self, trade: T) -> bool:
        return self._unpaid(trade)

    async def attempt(self, trade: T) -> bool:
        """Send the notify once; True when the merchant acknowledged it."""
        request = self._notify_request(self.client, trade)
        status: int | None = None
        error: str | None = None
        body = ""
        try:
            response = await self.client.send(request)
            status, body = response.status_code, response.text
        except Exception as exc:  # any failure is one failed attempt
            error = f"{type(exc).__name__}: {exc}"[:300]
        acked = error is None and self._acknowledges(body)
        at = self.store.clock().astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
        trade.attempts.append(Attempt(at, status, error, acked, body[:200]))
        if acked:
            trade.notify_state = "acked"
        self.store.save()
        return acked

    def deliver(self, trade: T, *, skip: int = 0) -> None:
        trade.notify_state = "pending"

        async def once() -> bool:
            if trade.notify_state == "acked":
                return True
            acked = await self.attempt(trade)
            if acked and trade.outcome == "twice" and sum(a.acked for a in trade.attempts) == 1:
                await self.attempt(trade)  # the duplicate a real gateway also sends sometimes
            return acked

        def give_up() -> None:
            if trade.notify_state != "acked":
                trade.notify_state = "gave_up"
                self.store.save()

        self.retrier.start(f"{self.name}-notify-{trade.trade_no}", once, give_up, skip=skip)

    async def pay(self, trade: T, outcome: str) -> bool:
        """Pay ``trade`` with ``outcome`` (OUTCOMES); False when it was paid before."""
        if not self._unpaid(trade):
            return False
        trade.outcome = outcome if outcome in OUTCOMES else "notify"
        if trade.outcome == "later":
            self.store.save()

            async def pay_now() -> None:
                if self.store.mark_paid(trade):
                    self.deliver(trade)

            self.retrier.later(f"{self.name}-pay-{trade.trade_no}", PAY_LATER_MINUTES, pay_now)
            return True
        self.store.mark_paid(trade)
        if trade.outcome == "silent":
            trade.notify_state = "suppressed"
            self.store.save()
        else:
            self.deliver(trade)
        return True

    def finish_later(self, trade: T, refund: Any) -> None:
        async def finish() -> None:
            self.store.finish_refund(trade, refund)

        self.retrier.later(self._refund_task(trade, refund), REFUND_LATE_MINUTES, finish)

    def resume(self) -> None:
        """A restarted sandbox carries on notifying (and refunding) where it stopped."""
        for trade in self.store.trades.values():
            if trade.notify_state == "pending":
                self.deliver(trade, skip=len(trade.attempts))
            for refund in trade.refunds:
                if refund.processing:
                    self.finish_later(trade, refund)

    async def aclose(self) -> None:
        await self.retrier.aclose()
        await self.client.aclose()


def outcome_options(refund_outcomes: Mapping[str, str]) -> str:
    """The cashier's radio buttons: what paying does, and what later refunds do."""
    return (
        "".join(
            f'<label><input type="radio" name="outcome" value="{code}"'
            f"{' checked' if code == 'notify' else ''}> {escape(label)}</label>"
            for code, label in OUTCOMES.items()
        )
        + "<p>以后的退款：</p>"
        + "".join(
            f'<label><input type="radio" name="refund_outcome" value="{code}"'
            f"{' checked' if code == 'refund_succeeds' else ''}> {escape(label)}</label>"
            for code, label in refund_outcomes.items()
        )
    )


async def request_fields(request: Request) -> dict[str, str]:
    """Query and form fields; the form wins (charset often rides in the query)."""
    fields = dict(request.query_params)
    if request.method == "POST":
        body = (await request.body()).decode("utf-8", "replace")
        fields |= dict(parse_qsl(body, keep_blank_values=True))
    return fields
