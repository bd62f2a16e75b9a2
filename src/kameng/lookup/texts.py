"""Lookup answers in plain words."""

from __future__ import annotations

from kameng.lookup.service import LookupKind, LookupResult


def message(result: LookupResult, lang: str) -> str:
    zh = lang == "zh"
    match result.kind:
        case LookupKind.ORDER:
            return "找到订单" if zh else "Order found"
        case LookupKind.TRADE_NO:
            return (
                "这是支付平台的交易号，已为您找到对应订单"
                if zh
                else "That is the payment platform's trade number; here is its order"
            )
        case LookupKind.SUGGESTIONS:
            return (
                "没有完全匹配的订单号，您是不是要找下面的订单？（订单号可能输错了一位或两位顺序颠倒）"
                if zh
                else "No exact match. Did you mean one of these? (a digit may be mistyped or two "
                "swapped)"
            )
        case LookupKind.INVALID:
            return (
                "请输入订单号（16 位数字）或支付平台交易号"
                if zh
                else "Enter the order number (16 digits) or the payment trade number"
            )
    hints = {
        "length": (
            "订单号是 16 位数字，您输入了 {n} 位，请核对",
            "Order numbers have 16 digits; you entered {n}",
        ),
        "check_digit": (
            "这个号码的校验位不对，可能输错了；也没有相近的订单",
            "The check digit does not match, so it is mistyped, and no close order exists",
        ),
        "unknown": (
            "没有找到该订单号或交易号。请确认是本店的订单号（下单后页面顶部的 16 位数字），"
            "而不是卡密或快递单号",
            "No order or trade with that number. Check it is this "
            "shop's order number (16 digits at the top of the order page), not a card key "
            "or tracking number",
        ),
    }
    zh_text, en_text = hints.get(result.hint, hints["unknown"])
    return (zh_text if zh else en_text).format(n=len(result.normalized))
