"""The trade bill (交易账单): one CSV per day, values prefixed with a backtick as
the platform writes them, a summary block at the end; GZIP when asked."""

from __future__ import annotations

import gzip
import hashlib
import re
import secrets

from fastapi.responses import Response

from kameng.sandbox.wechatpay.store import Store

HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_tokens: dict[str, tuple[str, str]] = {}


def valid_day(day: str) -> bool:
    return bool(_DAY.match(day))


def register(day: str, tar_type: str) -> str:
    token = secrets.token_urlsafe(24)
    _tokens[token] = (day, tar_type)
    return token


def lookup(token: str) -> tuple[str, str] | None:
    return _tokens.get(token)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def render(store: Store, mchid: str, day: str) -> str:
    lines = [HEADER]
    count = total = 0
    for trade in sorted(store.trades.values(), key=lambda t: t.success_time):
        if trade.mchid != mchid or not trade.success_time.startswith(day):
            continue
        count += 1
        total += trade.total
        when = trade.success_time[:19].replace("T", " ")
        money = _yuan(trade.total)
        cells = [when, trade.appid, trade.mchid, "", "", trade.transaction_id, trade.out_trade_no,
                 trade.payer_openid, trade.trade_type, "SUCCESS", "OTHERS", "CNY", money,
                 "0.00", "0", "0", "0.00", "0.00", "", "", trade.description, trade.attach,
                 _yuan(trade.total * 6 // 1000), "0.60%", money, "0.00", ""]  # fmt: skip
        lines.append(",".join("`" + c.replace(",", " ") for c in cells))
    refunded = 0
    for refund in sorted(store.refunds.values(), key=lambda r: r.success_time):
        if refund.mchid != mchid or refund.status != "SUCCESS":
            continue
        if not refund.success_time.startswith(day):
            continue
        paid = store.trade(mchid, refund.out_trade_no)
        if paid is None:
            continue
        count += 1
        refunded += refund.refund
        when = refund.success_time[:19].replace("T", " ")
        money = _yuan(refund.refund)
        cells = [when, paid.appid, mchid, "", "", refund.transaction_id, refund.out_trade_no,
                 paid.payer_openid, paid.trade_type, "REFUND", "OTHERS", "CNY", "0.00",
                 "0.00", refund.refund_id, refund.out_refund_no, money, "0.00", "ORIGINAL",
                 "SUCCESS", paid.description, paid.attach, "-" + _yuan(refund.refund * 6 // 1000),
                 "0.60%", _yuan(paid.total), money, ""]  # fmt: skip
        lines.append(",".join("`" + c.replace(",", " ") for c in cells))
    fee = total * 6 // 1000
    lines.append(SUMMARY)
    sums = [str(count), _yuan(total), _yuan(refunded), "0.00", _yuan(fee), _yuan(total),
            _yuan(refunded)]  # fmt: skip
    lines.append(",".join("`" + c for c in sums))
    return "\r\n".join(lines) + "\r\n"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def response(text: str, tar_type: str) -> Response:
    if tar_type == "GZIP":
        return Response(gzip.compress(text.encode()), media_type="application/octet-stream")
    return Response(text.encode(), media_type="text/plain; charset=utf-8")
