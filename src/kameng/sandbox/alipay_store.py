"""State and wire formats of the Alipay (支付宝开放平台) sandbox.

Trades live in a JSON file under var/ so a restarted sandbox still knows them.
Amounts are integer cents inside, ``"10.00"`` strings on the wire.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kameng.sandbox import rsa_sign
from kameng.sandbox.persist import JsonFile
from kameng.sandbox.trade_flow import CST, Attempt

# Alipay's documented resend intervals after the first notify (CN docs):
# 4m, 10m, 10m, 1h, 2h, 6h, 15h - eight notifies within about 25 hours.
NOTIFY_INTERVALS_MINUTES = (4, 10, 10, 60, 120, 360, 900)
NOTIFY_OFFSETS_MINUTES = tuple(
    sum(NOTIFY_INTERVALS_MINUTES[:i]) for i in range(len(NOTIFY_INTERVALS_MINUTES) + 1)
)

PAID = ("TRADE_SUCCESS", "TRADE_FINISHED")
# What the sandbox does with the trade's next refunds (set by a test or the demo).
REFUND_OUTCOMES = {
    "refund_succeeds": "退款成功",
    "refund_late": "退款稍后成功（应答 ACQ.SYSTEM_ERROR，1 分钟后查询为成功）",
    "refund_fails": "退款失败（ACQ.SELLER_BALANCE_NOT_ENOUGH，不退钱）",
}


class ApiError(Exception):
    """An Alipay business or argument error, as ``code``/``sub_code`` say it."""

    def __init__(self, code: str, msg: str, sub_code: str, sub_msg: str) -> None:
        super().__init__(sub_msg)
        self.body = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def invalid(sub_code: str, sub_msg: str) -> ApiError:
    return ApiError("40002", "Invalid Arguments", sub_code, sub_msg)


def business(sub_code: str, sub_msg: str) -> ApiError:
    return ApiError("40004", "Business Failed", sub_code, sub_msg)


def wall(moment: datetime) -> str:
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def parse_amount(text: str) -> int:
    """total_amount: yuan with at most two decimals, 0.01 to 100000000."""
    try:
        value = Decimal(text)
        exact = value.is_finite() and value == value.quantize(Decimal("0.01"))
    except InvalidOperation:  # also "1e999999999", too big to quantize
        exact = False
    if not exact:
        raise invalid("isv.invalid-parameter", "total_amount 格式错误")
    cents = int(value * 100)
    if not 1 <= cents <= 100_000_000_00:
        raise invalid("isv.invalid-parameter", "total_amount 超出范围")
    return cents


@dataclass
class Refund:
    out_request_no: str
    cents: int
    at: str
    # refund_late: the money is set aside but the refund is not done yet; Alipay
    # answers ACQ.SYSTEM_ERROR to the refund and to queries until it is.
    processing: bool = False


@dataclass
class Trade:
    trade_no: str
    out_trade_no: str
    app_id: str
    subject: str
    cents: int
    method: str
    notify_url: str
    return_url: str
    created: str
    status: str = "WAIT_BUYER_PAY"
    outcome: str = "notify"
    paid_at: str | None = None
    buyer_id: str = ""
    notify_state: str = "none"  # none / pending / acked / gave_up / suppressed
    attempts: list[Attempt] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    refund_outcome: str = "refund_succeeds"

    @property
    def refunded_cents(self) -> int:
        return sum(r.cents for r in self.refunds)

    def query_json(self) -> dict[str, Any]:
        """The body of alipay_trade_query_response for this trade."""
        body: dict[str, Any] = {
            "code": "10000",
            "msg": "Success",
            "trade_no": self.trade_no,
            "out_trade_no": self.out_trade_no,
            "trade_status": self.status,
            "total_amount": yuan(self.cents),
        }
        if self.paid_at:
            body |= {
                "buyer_logon_id": "sandbox***@alipay.test",
                "buyer_user_id": self.buyer_id,
                "buyer_pay_amount": yuan(self.cents),
                "receipt_amount": yuan(self.cents),
                "invoice_amount": yuan(self.cents),
                "point_amount": "0.00",
                "send_pay_date": self.paid_at,
            }
        return body


class AlipayStore:
    def __init__(
        self,
        *,
        app_id: str,
        seller_id: str,
        app_public_pem: str,
        alipay_private_pem: str,
        clock: Callable[[], datetime],
        file: JsonFile,
    ) -> None:
        self.app_id = app_id
        self.seller_id = seller_id
        self._app_public = rsa_sign.load_public(app_public_pem)
        self._alipay_private = rsa_sign.load_private(alipay_private_pem)
        self.clock = clock
        self.file = file
        self.trades: dict[str, Trade] = {}
        self.by_out: dict[str, str] = {}
        for row in file.load():
            row["attempts"] = [Attempt(**a) for a in row.get("attempts", [])]
            row["refunds"] = [Refund(**r) for r in row.get("refunds", [])]
            trade = Trade(**row)
            self.trades[trade.trade_no] = trade
            self.by_out[trade.out_trade_no] = trade.trade_no

    def save(self) -> None:
        self.file.save([asdict(t) for t in self.trades.values()])

    # -- signatures ----------------------------------------------------------

    def request_is_signed(self, params: Mapping[str, str]) -> bool:
        """A merchant request: every field but ``sign`` is signed (sign_type too)."""
        text = rsa_sign.sorted_pairs(params, exclude=("sign",))
        return rsa_sign.verify(self._app_public, text, params.get("sign", ""))

    def sign_fields(self, fields: dict[str, str]) -> dict[str, str]:
        """Notify and return fields: ``sign`` and ``sign_type`` are not signed."""
        text = rsa_sign.sorted_pairs(fields, exclude=("sign", "sign_type"))
        return fields | {"sign": rsa_sign.sign(self._alipay_private, text)}

    def sign_text(self, text: str) -> str:
        return rsa_sign.sign(self._alipay_private, text)

    # -- trades --------------------------------------------------------------

    def get(self, trade_no: str) -> Trade | None:
        return self.trades.get(trade_no)

    def find(self, biz: Mapping[str, Any]) -> Trade:
        trade_no, out_trade_no = str(biz.get("trade_no") or ""), str(biz.get("out_trade_no") or "")
        if not trade_no and not out_trade_no:
            raise invalid("isv.missing-parameter", "out_trade_no 和 trade_no 不能同时为空")
        trade = self.trades.get(trade_no) if trade_no else None
        if trade is None and out_trade_no:
            found = self.by_out.get(out_trade_no)
            trade = self.trades.get(found) if found else None
        if trade is None:
            raise business("ACQ.TRADE_NOT_EXIST", "交易不存在")
        return trade

    def recent(self) -> list[Trade]:
        return list(reversed(self.trades.values()))

    def create_or_reuse(
        self, biz: Mapping[str, Any], method: str, notify_url: str, return_url: str
    ) -> Trade:
        out_trade_no = str(biz.get("out_trade_no") or "")
        subject = str(biz.get("subject") or "")
        if not out_trade_no or len(out_trade_no) > 64:
            raise invalid("isv.missing-parameter", "缺少必选参数 out_trade_no")
        if not subject:
            raise invalid("isv.missing-parameter", "缺少必选参数 subject")
        cents = parse_amount(str(biz.get("total_amount") or ""))
        old_no = self.by_out.get(out_trade_no)
        old = self.trades.get(old_no) if old_no else None
        if old is not None:
            if old.status != "WAIT_BUYER_PAY":
                raise business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
            if old.cents != cents or old.subject != subject:
                raise business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
            return old
        now = self.clock()
        trade_no = self._trade_no(now)
        trade = Trade(
            trade_no=trade_no,
            out_trade_no=out_trade_no,
            app_id=self.app_id,
            subject=subject,
            cents=cents,
            method=method,
            notify_url=notify_url,
            return_url=return_url,
            created=wall(now),
        )
        self.trades[trade_no] = trade
        self.by_out[out_trade_no] = trade_no
        self.save()
        return trade

    def _trade_no(self, now: datetime) -> str:
        while True:
            # 28 digits like Alipay's own: date, "22001", then random digits.
            digits = "".join(secrets.choice("0123456789") for _ in range(15))
            number = now.astimezone(CST).strftime("%Y%m%d") + "22001" + digits
            if number not in self.trades:
                return number

    def mark_paid(self, trade: Trade) -> bool:
        if trade.status != "WAIT_BUYER_PAY":
            return False
        trade.status = "TRADE_SUCCESS"
        trade.paid_at = wall(self.clock())
        trade.buyer_id = "2088" + "".join(secrets.choice("0123456789") for _ in range(12))
        self.save()
        return True

    def notify_fields(self, trade: Trade) -> dict[str, str]:
        """The async notify (trade_status_sync) as Alipay POSTs it, signed."""
        amount = trade.cents + (1 if trade.outcome == "wrong_amount" else 0)
        fields = {
            "notify_time": wall(self.clock()),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": trade.app_id,
            "auth_app_id": trade.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "trade_status": trade.status,
            "buyer_id": trade.buyer_id,
            "seller_id": self.seller_id,
            "subject": trade.subject,
            "total_amount": yuan(amount),
            "receipt_amount": yuan(amount),
            "invoice_amount": yuan(amount),
            "buyer_pay_amount": yuan(amount),
            "point_amount": "0.00",
            "gmt_create": trade.created,
            "gmt_payment": trade.paid_at or "",
            "fund_bill_list": f'[{{"amount":"{yuan(amount)}","fundChannel":"ALIPAYACCOUNT"}}]',
        }
        return self.sign_fields({k: v for k, v in fields.items() if v != ""})

    def return_fields(self, trade: Trade) -> dict[str, str]:
        """The browser's synchronous return (``*.return``), signed like a notify."""
        fields = {
            "charset": "utf-8",
            "out_trade_no": trade.out_trade_no,
            "method": f"{trade.method}.return",
            "total_amount": yuan(trade.cents),
            "trade_no": trade.trade_no,
            "auth_app_id": trade.app_id,
            "version": "1.0",
            "app_id": trade.app_id,
            "sign_type": "RSA2",
            "seller_id": self.seller_id,
            "timestamp": wall(self.clock()),
        }
        return self.sign_fields(fields)

    def refund(self, trade: Trade, biz: Mapping[str, Any]) -> tuple[Refund, bool]:
        """alipay.trade.refund: idempotent by out_request_no (a repeat moves no money)."""
        request_no = str(biz.get("out_request_no") or trade.out_trade_no)
        for done in trade.refunds:
            if done.out_request_no == request_no:
                return done, False
        if trade.status not in PAID:
            raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        cents = parse_amount(str(biz.get("refund_amount") or ""))
        if cents > trade.cents - trade.refunded_cents:
            raise business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        if trade.refund_outcome == "refund_fails":
            raise business("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足")
        late = trade.refund_outcome == "refund_late"
        refund = Refund(request_no, cents, wall(self.clock()), processing=late)
        trade.refunds.append(refund)
        self.settle_status(trade)
        self.save()
        return refund, True

    def settle_status(self, trade: Trade) -> None:
        """Fully refunded (nothing left processing) closes the trade."""
        if trade.refunded_cents == trade.cents and not any(r.processing for r in trade.refunds):
            trade.status = "TRADE_CLOSED"

    def finish_refund(self, trade: Trade, refund: Refund) -> None:
        """A late refund is done now (its time is when it finished)."""
        if refund.processing:
            refund.processing = False
            refund.at = wall(self.clock())
            self.settle_status(trade)
            self.save()
