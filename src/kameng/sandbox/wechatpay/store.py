"""Trades and refunds of the WeChat Pay sandbox, kept in a JSON file under ``var/``
so that, like the real platform, it remembers them across restarts."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

CST = timezone(timedelta(hours=8), "Asia/Shanghai")

# How the sandbox behaves once the buyer pays (chosen per order: cashier
# buttons, or POST /sandbox/trades/{out_trade_no}/outcome).
OUTCOMES = {
    "notify": "支付并通知 pay, notify",
    "pay_later": "稍后支付 pay after a delay, then notify",
    "no_notify": "支付但不通知 pay, never notify",
    "notify_twice": "通知两次 pay, notify twice",
    "wrong_amount": "通知金额错误 pay, notify with amount.total + 1",
}
REFUND_OUTCOMES = {
    "refund_succeeds": "退款成功",
    "refund_late": "退款稍后成功",
    "refund_fails": "退款异常 ABNORMAL",
}
TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "CLOSED": "已关闭",
}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(CST).isoformat(timespec="seconds")


@dataclass
class Attempt:
    at: str
    event_type: str
    status: int | None
    error: str | None
    acked: bool


@dataclass
class Trade:
    mchid: str
    appid: str
    out_trade_no: str
    description: str
    total: int  # fen
    notify_url: str
    trade_type: str  # NATIVE / MWEB (H5)
    created_at: str
    prepay_token: str
    attach: str = ""
    trade_state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: str = ""
    payer_openid: str = ""
    outcome: str = "notify"
    notify_state: str = "none"  # none / pending / acked / gave_up / suppressed
    attempts: list[Attempt] = field(default_factory=list)
    refunded: int = 0

    def transaction_json(self, *, total_override: int | None = None) -> dict[str, Any]:
        """The transaction object, as the query API and the notify's resource carry it."""
        total = self.total if total_override is None else total_override
        body: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_type": self.trade_type,
            "trade_state": self.trade_state,
            "trade_state_desc": TRADE_STATE_DESC.get(self.trade_state, self.trade_state),
            "attach": self.attach,
            "amount": {"total": total, "currency": "CNY", "payer_currency": "CNY"},
            "promotion_detail": [],
        }
        if self.transaction_id:
            body.update(
                transaction_id=self.transaction_id,
                bank_type="OTHERS",
                success_time=self.success_time,
                payer={"openid": self.payer_openid},
            )
            body["amount"]["payer_total"] = total
        return body


@dataclass
class Refund:
    refund_id: str
    out_refund_no: str
    out_trade_no: str
    transaction_id: str
    mchid: str
    refund: int
    total: int
    reason: str
    notify_url: str
    created_at: str
    status: str = "PROCESSING"  # PROCESSING / SUCCESS / ABNORMAL / CLOSED
    success_time: str = ""
    outcome: str = "refund_succeeds"
    attempts: list[Attempt] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": self.created_at,
            "status": self.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": self.total,
                "refund": self.refund,
                "payer_total": self.total,
                "payer_refund": self.refund,
                "settlement_total": self.total,
                "settlement_refund": self.refund,
                "discount_refund": 0,
                "currency": "CNY",
            },
            "promotion_detail": [],
        }
        if self.success_time:
            body["success_time"] = self.success_time
        return body


class Store:
    """All trades and refunds, saved to ``path`` after every change."""

    def __init__(self, path: Path, clock: Callable[[], datetime]) -> None:
        self.path = path
        self.clock = clock
        self.trades: dict[tuple[str, str], Trade] = {}
        self.refunds: dict[tuple[str, str], Refund] = {}
        self.by_token: dict[str, Trade] = {}
        if path.exists():
            self._load(json.loads(path.read_text()))

    def _load(self, data: dict[str, Any]) -> None:
        for raw in data.get("trades", []):
            raw["attempts"] = [Attempt(**a) for a in raw.get("attempts", [])]
            trade = Trade(**raw)
            self.trades[(trade.mchid, trade.out_trade_no)] = trade
            self.by_token[trade.prepay_token] = trade
        for raw in data.get("refunds", []):
            raw["attempts"] = [Attempt(**a) for a in raw.get("attempts", [])]
            refund = Refund(**raw)
            self.refunds[(refund.mchid, refund.out_refund_no)] = refund

    def save(self) -> None:
        data = {
            "trades": [asdict(t) for t in self.trades.values()],
            "refunds": [asdict(r) for r in self.refunds.values()],
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1))
        os.replace(tmp, self.path)

    def now_text(self) -> str:
        return rfc3339(self.clock())

    def trade(self, mchid: str, out_trade_no: str) -> Trade | None:
        return self.trades.get((mchid, out_trade_no))

    def recent(self) -> list[Trade]:
        return sorted(self.trades.values(), key=lambda t: t.created_at, reverse=True)

    def add_trade(self, trade: Trade) -> None:
        self.trades[(trade.mchid, trade.out_trade_no)] = trade
        self.by_token[trade.prepay_token] = trade
        self.save()

    def new_transaction_id(self) -> str:
        day = self.clock().astimezone(CST).strftime("%Y%m%d")
        return f"4200{secrets.randbelow(10**6):06d}{day}{secrets.randbelow(10**10):010d}"

    def mark_paid(self, trade: Trade) -> bool:
        """False when it was paid already."""
        if trade.trade_state != "NOTPAY":
            return False
        trade.trade_state = "SUCCESS"
        trade.transaction_id = self.new_transaction_id()
        trade.success_time = self.now_text()
        trade.payer_openid = "oUpF8u" + secrets.token_urlsafe(21)[:22]
        self.save()
        return True

    def refund(self, mchid: str, out_refund_no: str) -> Refund | None:
        return self.refunds.get((mchid, out_refund_no))

    def add_refund(self, refund: Refund, trade: Trade) -> None:
        self.refunds[(refund.mchid, refund.out_refund_no)] = refund
        trade.refunded += refund.refund
        trade.trade_state = "REFUND"
        self.save()

    def refunds_of(self, trade: Trade) -> list[Refund]:
        return [
            r
            for r in self.refunds.values()
            if r.mchid == trade.mchid and r.out_trade_no == trade.out_trade_no
        ]
