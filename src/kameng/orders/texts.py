"""What each status and timeline event means, in the buyer's words (zh / en).

Every status answers "where is my order, why, and what happens next" — the
article's five causes start here with the two that apply to card keys:
payment state and stock.
"""

from __future__ import annotations

from typing import Any

from kameng.kit.money import format_yuan
from kameng.kit.timefmt import DEFAULT_ZONE, local
from kameng.orders.repository import OrderRow

STATUS_LABELS: dict[str, dict[str, str]] = {
    "unpaid": {"zh": "待支付", "en": "Awaiting payment"},
    "expired": {"zh": "已过期", "en": "Expired"},
    "paid": {"zh": "已支付", "en": "Paid"},
    "awaiting_stock": {"zh": "已支付 · 等待补货", "en": "Paid · waiting for stock"},
    "delivered": {"zh": "已发货", "en": "Delivered"},
}

EVENT_LABELS: dict[str, dict[str, str]] = {
    "created": {"zh": "订单已创建，订单号已生成", "en": "Order created, number issued"},
    "paid": {"zh": "已收到付款", "en": "Payment received"},
    "delivered": {"zh": "卡密已发放", "en": "Card keys delivered"},
    "awaiting_stock": {
        "zh": "商品暂时缺货，等待补货后自动发放",
        "en": "Out of stock; will be delivered automatically on restock",
    },
    "partially_delivered": {"zh": "已补发部分卡密", "en": "Part of the card keys delivered"},
    "expired": {"zh": "超时未支付，订单已过期", "en": "Not paid in time; order expired"},
    "second_payment": {
        "zh": "收到重复付款，将原路退回",
        "en": "Paid twice; the extra payment will be refunded",
    },
}


def status_label(status: str, lang: str) -> str:
    return STATUS_LABELS.get(status, {}).get(lang) or status


def event_label(event_type: str, params: dict[str, Any], lang: str) -> str:
    label = EVENT_LABELS.get(event_type, {}).get(lang) or event_type
    if (
        event_type in ("awaiting_stock", "partially_delivered", "delivered")
        and "quantity" in params
    ):
        label += f" ({params.get('delivered', 0)}/{params['quantity']})"
    if event_type == "paid" and params.get("source") == "query":
        label += (
            "（支付通知未到达，系统主动向支付平台查询确认）"
            if lang == "zh"
            else " (the payment notice never came; confirmed by asking the payment platform)"
        )
    if event_type == "paid" and params.get("late"):
        label += (
            "（订单过期后到账，已照常处理）"
            if lang == "zh"
            else " (arrived after expiry; honoured)"
        )
    return label


def explain(order: OrderRow, lang: str, zone_name: str = DEFAULT_ZONE) -> str:
    """Why the order is where it is and what happens next."""
    zh = lang == "zh"
    amount = format_yuan(order.amount_cents)
    expires = local(order.expires_at, zone_name) + (
        " 北京时间" if zone_name == DEFAULT_ZONE else ""
    )
    if not zh:
        expires = local(order.expires_at, zone_name) + f" ({zone_name})"
    match order.status:
        case "unpaid":
            return (
                f"订单尚未支付（¥{amount}）。请在 {expires} 前完成付款，付款后卡密立即显示在本页。"
                if zh
                else f"Not paid yet (¥{amount}). Pay before {expires}; "
                "the card keys appear here at once."
            )
        case "expired":
            return (
                "订单超时未支付已过期。如果您其实已经付款，请不用担心：收到支付平台通知后，"
                "订单会自动恢复并发货。"
                if zh
                else "Expired unpaid. If you did pay, don't worry: when the payment platform "
                "confirms it, the order is revived and delivered automatically."
            )
        case "paid":
            return (
                "已收到付款，正在发放卡密，通常几秒内完成。"
                if zh
                else "Payment received; the card keys are being issued, usually within seconds."
            )
        case "awaiting_stock":
            return (
                f"已收到付款，但商品暂时缺货（已发 {order.delivered_quantity}/{order.quantity}）。"
                "补货后按付款先后顺序自动发放，无需任何操作；您的款项安全。"
                if zh
                else f"Paid, but out of stock "
                f"({order.delivered_quantity}/{order.quantity} delivered). "
                "Keys are delivered automatically on restock, first paid first served; "
                "your money is safe."
            )
        case "delivered":
            return (
                "已发货。本商品是卡密：您收到的是下方的卡号和密码，没有快递单号。"
                if zh
                else "Delivered. This product is a card key: your goods are the card number and "
                "password below; there is no courier tracking number."
            )
    return status_label(order.status, lang)
