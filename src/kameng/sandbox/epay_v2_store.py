"""State and wire formats of the 易支付 V2 (RSA) sandbox.

Mirrors zxh1220/epay's V2 API: SHA256withRSA over the ASCII-sorted non-empty
scalar fields but ``sign``/``sign_type`` (raw values), ``sign_type=RSA``, a
10-digit ``timestamp`` refused beyond ±300 s, ``code=0`` for success, answers
and notifies signed with the platform key. Trades persist in a JSON file.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from kameng.kit.money import MoneyFormatError, format_yuan, parse_yuan
from kameng.sandbox import rsa_sign
from kameng.sandbox.persist import JsonFile
from kameng.sandbox.trade_flow import CST, Attempt

NOTIFY_OFFSETS_MINUTES = (0, 1, 3, 19, 55)  # same cron schedule as V1
MAX_SKEW_SECONDS = 300
ACK_MARKERS = ("success", "SUCCESS", "Success")


REFUND_OUTCOMES = {
    "refund_succeeds": "退款成功",
    "refund_late": "退款稍后成功（应答丢失，1 分钟后查询为成功）",
    "refund_fails": "退款失败（商户余额不足，不退钱）",
}


class Refused(Exception):
    def __init__(self, msg: str, code: int = -1) -> None:
        super().__init__(msg)
        self.msg = msg
        self.code = code


def signing_string(params: Mapping[str, Any]) -> str:
    scalars = {
        k: str(v)
        for k, v in params.items()
        if v is not None and not isinstance(v, (list, dict, bool))
    }
    return rsa_sign.sorted_pairs(scalars, exclude=("sign", "sign_type"))


def wall(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Refund:
    refund_no: str
    out_refund_no: str
    cents: int
    addtime: str = ""
    processing: bool = False  # refund_late: not done yet, its answer was lost


@dataclass
class Trade:
    trade_no: str
    out_trade_no: str
    pid: str
    type: str
    name: str
    cents: int
    notify_url: str
    return_url: str
    param: str
    clientip: str
    addtime: str
    endtime: str | None = None
    status: int = 0
    api_trade_no: str = ""
    buyer: str = ""
    outcome: str = "notify"
    notify_state: str = "none"  # none / pending / acked / gave_up / suppressed
    attempts: list[Attempt] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    refund_outcome: str = "refund_succeeds"

    @property
    def refunded_cents(self) -> int:
        """Refunded or being refunded: what can no longer be refunded."""
        return sum(r.cents for r in self.refunds)

    @property
    def refund_done_cents(self) -> int:
        return sum(r.cents for r in self.refunds if not r.processing)

    def order_json(self) -> dict[str, Any]:
        return {
            "trade_no": self.trade_no,
            "out_trade_no": self.out_trade_no,
            "api_trade_no": self.api_trade_no,
            "type": self.type,
            "pid": self.pid,
            "addtime": self.addtime,
            "endtime": self.endtime or "",
            "name": self.name,
            "money": format_yuan(self.cents),
            "refundmoney": format_yuan(self.refund_done_cents),
            "param": self.param,
            "buyer": self.buyer,
            "clientip": self.clientip,
            "status": self.status,
        }


class EpayV2Store:
    def __init__(
        self,
        *,
        merchants: Mapping[str, str],
        platform_private_pem: str,
        clock: Callable[[], datetime],
        file: JsonFile,
    ) -> None:
        self.merchants = {pid: rsa_sign.load_public(pem) for pid, pem in merchants.items()}
        self._platform = rsa_sign.load_private(platform_private_pem)
        self.clock = clock
        self.file = file
        self.trades: dict[str, Trade] = {}
        self.by_out: dict[tuple[str, str], str] = {}
        for row in file.load():
            row["attempts"] = [Attempt(**a) for a in row.get("attempts", [])]
            row["refunds"] = [Refund(**r) for r in row.get("refunds", [])]
            trade = Trade(**row)
            self.trades[trade.trade_no] = trade
            self.by_out[(trade.pid, trade.out_trade_no)] = trade.trade_no

    def save(self) -> None:
        self.file.save([asdict(t) for t in self.trades.values()])

    def now_ts(self) -> str:
        return str(int(self.clock().timestamp()))

    def sign(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Platform-signed: adds timestamp, sign and sign_type=RSA."""
        fields = fields | {"timestamp": self.now_ts()}
        return fields | {
            "sign": rsa_sign.sign(self._platform, signing_string(fields)),
            "sign_type": "RSA",
        }

    def check_request(self, params: Mapping[str, str]) -> str:
        """ApiHelper::api_verify: merchant, sign type, signature, clock skew; returns pid."""
        pid = params.get("pid", "")
        key = self.merchants.get(pid)
        if key is None:
            raise Refused("商户不存在" if pid else "商户ID不能为空")
        if params.get("sign_type") != "RSA":
            raise Refused("签名类型错误")
        timestamp = params.get("timestamp", "")
        if not timestamp.isdigit() or len(timestamp) != 10:
            raise Refused("时间戳(timestamp)格式错误")
        if abs(self.clock().timestamp() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise Refused("时间戳(timestamp)已过期")
        if not rsa_sign.verify(key, signing_string(params), params.get("sign", "")):
            raise Refused("签名校验失败")
        return pid

    def get(self, trade_no: str) -> Trade | None:
        return self.trades.get(trade_no)

    def find(self, pid: str, params: Mapping[str, str]) -> Trade:
        trade = None
        if params.get("trade_no"):
            trade = self.trades.get(params["trade_no"])
        elif params.get("out_trade_no"):
            found = self.by_out.get((pid, params["out_trade_no"]))
            trade = self.trades.get(found) if found else None
        else:
            raise Refused("订单号不能为空")
        if trade is None or trade.pid != pid:
            raise Refused("订单号不存在")
        return trade

    def create_or_reuse(self, pid: str, params: Mapping[str, str], clientip: str) -> Trade:
        get = params.get
        for name in ("out_trade_no", "notify_url", "name", "money"):
            if not get(name):
                raise Refused(f"{name}不能为空")
        try:
            cents = parse_yuan(get("money", ""))
        except MoneyFormatError:
            raise Refused("金额不合法") from None
        if cents <= 0:
            raise Refused("金额不合法")
        out_trade_no = get("out_trade_no", "")
        old_no = self.by_out.get((pid, out_trade_no))
        old = self.trades.get(old_no) if old_no else None
        if old is not None:
            if old.status != 0:
                raise Refused(f"该订单({out_trade_no})已完成支付，请勿重复发起支付")
            if old.cents != cents or old.name != get("name") or old.notify_url != get("notify_url"):
                raise Refused(f"该订单({out_trade_no})支付参数有变化，请更换订单号重新发起支付")
            return old
        now = self.clock()
        trade_no = now.astimezone(CST).strftime("%Y%m%d%H%M%S") + "".join(
            secrets.choice("0123456789") for _ in range(6)
        )
        trade = Trade(
            trade_no=trade_no,
            out_trade_no=out_trade_no,
            pid=pid,
            type=get("type", "") or "alipay",
            name=get("name", ""),
            cents=cents,
            notify_url=get("notify_url", ""),
            return_url=get("return_url", ""),
            param=get("param", ""),
            clientip=get("clientip", "") or clientip,
            addtime=wall(now) or "",
        )
        self.trades[trade_no] = trade
        self.by_out[(pid, out_trade_no)] = trade_no
        self.save()
        return trade

    def mark_paid(self, trade: Trade) -> bool:
        if trade.status != 0:
            return False
        trade.status = 1
        trade.endtime = wall(self.clock())
        trade.api_trade_no = "4200" + "".join(secrets.choice("0123456789") for _ in range(24))
        trade.buyer = "sandbox-buyer"
        self.save()
        return True

    def notify_fields(self, trade: Trade) -> dict[str, Any]:
        """The V1 fields plus api_trade_no, addtime, endtime, buyer and timestamp."""
        cents = trade.cents + (1 if trade.outcome == "wrong_amount" else 0)
        fields = {
            "pid": trade.pid,
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "api_trade_no": trade.api_trade_no,
            "type": trade.type,
            "name": trade.name,
            "money": format_yuan(cents),
            "trade_status": "TRADE_SUCCESS",
            "param": trade.param,
            "addtime": trade.addtime,
            "endtime": trade.endtime or "",
            "buyer": trade.buyer,
        }
        return self.sign({k: v for k, v in fields.items() if v != ""})

    def refund(self, trade: Trade, params: Mapping[str, str]) -> Refund:
        """api/pay/refund; a repeated out_refund_no answers the first refund again."""
        out_refund_no = params.get("out_refund_no", "")
        for done in trade.refunds:
            if out_refund_no and done.out_refund_no == out_refund_no:
                return done
        if trade.status not in (1, 2):
            raise Refused("订单未支付，无法退款")
        try:
            cents = parse_yuan(params.get("money", ""))
        except MoneyFormatError:
            raise Refused("退款金额不合法") from None
        if cents <= 0 or cents > trade.cents - trade.refunded_cents:
            raise Refused("退款金额超过可退金额")
        if trade.refund_outcome == "refund_fails":
            raise Refused("退款失败，商户余额不足")
        refund_no = self.clock().astimezone(CST).strftime("%Y%m%d%H%M%S") + "".join(
            secrets.choice("0123456789") for _ in range(5)
        )
        late = trade.refund_outcome == "refund_late"
        done = Refund(refund_no, out_refund_no, cents, wall(self.clock()) or "", processing=late)
        trade.refunds.append(done)
        self.settle_status(trade)
        self.save()
        return done

    def settle_status(self, trade: Trade) -> None:
        if trade.refund_done_cents == trade.cents:
            trade.status = 2  # 已退款

    def finish_refund(self, trade: Trade, refund: Refund) -> None:
        if refund.processing:
            refund.processing = False
            refund.addtime = wall(self.clock()) or ""
            self.settle_status(trade)
            self.save()

    def find_refund(self, pid: str, params: Mapping[str, str]) -> tuple[Trade, Refund]:
        """api/pay/refundquery: by refund_no or out_refund_no, this merchant's only."""
        refund_no, out_refund_no = params.get("refund_no", ""), params.get("out_refund_no", "")
        if not refund_no and not out_refund_no:
            raise Refused("退款单号不能为空")
        for trade in self.trades.values():
            if trade.pid != pid:
                continue
            for refund in trade.refunds:
                if (refund_no and refund.refund_no == refund_no) or (
                    not refund_no and refund.out_refund_no == out_refund_no
                ):
                    return trade, refund
        raise Refused("退款单不存在")
