"""Notify delivery: signed, AES-GCM encrypted envelopes POSTed to the merchant,
retried on WeChat Pay's published schedule until it answers 200 or 204."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from kameng.sandbox.wechatpay import wire
from kameng.sandbox.wechatpay.keys import Identity
from kameng.sandbox.wechatpay.store import Attempt, Refund, Store, Trade

# After the first attempt: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h
# (WeChat Pay API v3 docs, 支付通知 on pay.weixin.qq.com), about 24 h 4 min in all.
RETRY_INTERVALS_SECONDS = (
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600
)  # fmt: skip
ACK_STATUSES = (200, 204)
TIMEOUT_SECONDS = 5.0  # the platform waits 5 s for an answer


class Notifier:
    def __init__(
        self,
        identity: Identity,
        store: Store,
        serial: str,
        time_scale: float,
        transport: httpx.AsyncBaseTransport | None,
        unix_time: Callable[[], int] = lambda: int(time.time()),
    ) -> None:
        self.identity = identity
        self.store = store
        self.serial = serial
        self.time_scale = time_scale
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.unix_time = unix_time
        self.tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, timeout=TIMEOUT_SECONDS)
        return self._client

    # -- envelopes ---------------------------------------------------------------

    def envelope(
        self, event_type: str, summary: str, original_type: str, resource: dict[str, Any]
    ) -> str:
        sealed = wire.encrypt_resource(
            self.identity.apiv3_key, json.dumps(resource, ensure_ascii=False), original_type
        )
        body = {
            "id": f"EV-{secrets.token_hex(12)}",
            "create_time": self.store.now_text(),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {"original_type": original_type, **sealed},
        }
        return json.dumps(body, ensure_ascii=False)

    def signed_headers(self, body: str) -> dict[str, str]:
        """Fresh timestamp and nonce for every delivery, as the platform sends them."""
        timestamp, nonce = str(self.unix_time()), wire.nonce()
        return {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": wire.rsa_sign(
                self.identity.platform_key, wire.response_message(timestamp, nonce, body)
            ),
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature-Type": wire.SCHEME,
            "User-Agent": "Mozilla/4.0",
        }

    def trade_body(self, trade: Trade) -> str:
        total = trade.total + 1 if trade.outcome == "wrong_amount" else None
        return self.envelope(
            "TRANSACTION.SUCCESS",
            "支付成功",
            "transaction",
            trade.transaction_json(total_override=total),
        )

    def refund_body(self, refund: Refund) -> str:
        event = "REFUND.SUCCESS" if refund.status == "SUCCESS" else "REFUND.ABNORMAL"
        resource = {
            "mchid": refund.mchid,
            "out_trade_no": refund.out_trade_no,
            "transaction_id": refund.transaction_id,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": refund.status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": refund.total,
                "refund": refund.refund,
                "payer_total": refund.total,
                "payer_refund": refund.refund,
            },
        }
        if refund.success_time:
            resource["success_time"] = refund.success_time
        return self.envelope(
            event, "退款成功" if refund.status == "SUCCESS" else "退款异常", "refund", resource
        )

    # -- delivery ----------------------------------------------------------------

    async def attempt(self, url: str, body: str, event_type: str, log: list[Attempt]) -> bool:
        status: int | None = None
        error: str | None = None
        try:
            response = await self.client().post(
                url, content=body.encode(), headers=self.signed_headers(body)
            )
            status = response.status_code
        except Exception as exc:  # a timeout or a refused connection is a failed attempt
            error = f"{type(exc).__name__}: {exc}"[:300]
        acked = status in ACK_STATUSES
        log.append(Attempt(self.store.now_text(), event_type, status, error, acked))
        self.store.save()
        return acked

    async def _deliver(
        self,
        url: str,
        make_body: Callable[[], str],
        event_type: str,
        log: list[Attempt],
        first: int,
    ) -> bool:
        """Attempts ``first``.. of the schedule; True once acknowledged."""
        for index in range(first, len(RETRY_INTERVALS_SECONDS) + 1):
            if index > 0:
                await asyncio.sleep(RETRY_INTERVALS_SECONDS[index - 1] * self.time_scale)
            if await self.attempt(url, make_body(), event_type, log):
                return True
        return False

    def start_trade(self, trade: Trade) -> None:
        if trade.outcome == "no_notify":
            trade.notify_state = "suppressed"
            self.store.save()
            return
        trade.notify_state = "pending"
        self.store.save()
        self._spawn(
            self._trade(trade, first=len(trade.attempts)), f"wxpay-notify-{trade.out_trade_no}"
        )

    async def _trade(self, trade: Trade, first: int) -> None:
        acked = await self._deliver(
            trade.notify_url,
            lambda: self.trade_body(trade),
            "TRANSACTION.SUCCESS",
            trade.attempts,
            first,
        )
        if acked and trade.outcome == "notify_twice":
            # The same payment notified once more, as happens when an ack is lost.
            await self.attempt(
                trade.notify_url, self.trade_body(trade), "TRANSACTION.SUCCESS", trade.attempts
            )
        trade.notify_state = "acked" if acked else "gave_up"
        self.store.save()

    def start_refund(self, refund: Refund, settle_after_seconds: float) -> None:
        self._spawn(
            self._refund(refund, settle_after_seconds), f"wxpay-refund-{refund.out_refund_no}"
        )

    async def _refund(self, refund: Refund, settle_after_seconds: float) -> None:
        if refund.status == "PROCESSING":
            await asyncio.sleep(settle_after_seconds * self.time_scale)
            if refund.outcome == "refund_fails":
                refund.status = "ABNORMAL"
                # The money stays with the merchant: refundable again (a new out_refund_no).
                trade = self.store.trade(refund.mchid, refund.out_trade_no)
                if trade is not None:
                    trade.refunded -= refund.refund
            else:
                refund.status = "SUCCESS"
                refund.success_time = self.store.now_text()
            self.store.save()
        if refund.notify_url:
            await self._deliver(
                refund.notify_url,
                lambda: self.refund_body(refund),
                "REFUND",
                refund.attempts,
                len(refund.attempts),
            )

    def pay_later(self, trade: Trade, delay_seconds: float) -> None:
        """The buyer pays after ``delay_seconds`` (scaled); then the usual notify."""
        self._spawn(self._pay_later(trade, delay_seconds), f"wxpay-later-{trade.out_trade_no}")

    async def _pay_later(self, trade: Trade, delay_seconds: float) -> None:
        await asyncio.sleep(delay_seconds * self.time_scale)
        if self.store.mark_paid(trade):
            self.start_trade(trade)

    def resume(self) -> None:
        """After a restart: carry on with payments and deliveries still pending."""
        for trade in self.store.trades.values():
            if trade.outcome == "pay_later" and trade.trade_state == "NOTPAY":
                self.pay_later(trade, 0)
        for trade in self.store.trades.values():
            if trade.notify_state == "pending":
                self._spawn(
                    self._trade(trade, first=len(trade.attempts)),
                    f"wxpay-notify-{trade.out_trade_no}",
                )
        for refund in self.store.refunds.values():
            if refund.status == "PROCESSING" or (
                refund.notify_url and not any(a.acked for a in refund.attempts)
            ):
                self.start_refund(refund, 0)

    async def aclose(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
