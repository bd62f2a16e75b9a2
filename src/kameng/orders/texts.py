"""What each status and timeline event means, in the buyer's words.

Why an order is where it is (the article's five causes) is
``kameng.orders.explain``. The words are msgids of the gettext catalogue; the
caller passes the translator for the buyer's language.
"""

from __future__ import annotations

from typing import Any

from kameng.kit.i18n import N_, Translator
from kameng.kit.money import format_yuan
from kameng.models.vocabulary import OrderEventType, OrderStatus

# Every status and every event type has its words (tests/orders/test_texts.py).
STATUS_LABELS: dict[OrderStatus, str] = {
    OrderStatus.UNPAID: N_("Awaiting payment"),
    OrderStatus.EXPIRED: N_("Expired"),
    OrderStatus.PAID: N_("Paid"),
    OrderStatus.AWAITING_STOCK: N_("Paid · waiting for stock"),
    OrderStatus.DELIVERED: N_("Delivered"),
}

EVENT_LABELS: dict[OrderEventType, str] = {
    OrderEventType.CREATED: N_("Order created, number issued"),
    OrderEventType.PAID: N_("Payment received"),
    OrderEventType.DELIVERED: N_("Card keys delivered"),
    OrderEventType.AWAITING_STOCK: N_("Out of stock; will be delivered automatically on restock"),
    OrderEventType.PARTIALLY_DELIVERED: N_("Part of the card keys delivered"),
    OrderEventType.EXPIRED: N_("Not paid in time; order expired"),
    OrderEventType.SECOND_PAYMENT: N_("Paid twice; the extra payment will be refunded"),
    OrderEventType.REFUND_REQUESTED: N_("Refund requested"),
    OrderEventType.REFUND_SUBMITTED: N_("Refund sent to the payment platform"),
    OrderEventType.REFUND_SUCCEEDED: N_("Refunded: the money is on its way back to you"),
    OrderEventType.REFUND_FAILED: N_("The refund did not go through; it is retried automatically"),
    OrderEventType.REFUND_GIVEN_UP: N_(
        "The refund could not be completed automatically; the shop will contact you"
    ),
}

_REFUND_EVENTS = frozenset(
    {
        OrderEventType.REFUND_REQUESTED,
        OrderEventType.REFUND_SUBMITTED,
        OrderEventType.REFUND_SUCCEEDED,
        OrderEventType.REFUND_FAILED,
        OrderEventType.REFUND_GIVEN_UP,
    }
)

_COUNTED_EVENTS = frozenset(
    {OrderEventType.AWAITING_STOCK, OrderEventType.PARTIALLY_DELIVERED, OrderEventType.DELIVERED}
)


def status_label(status: OrderStatus, t: Translator) -> str:
    msgid = STATUS_LABELS.get(status)
    return t(msgid) if msgid else status


def event_label(event_type: OrderEventType, params: dict[str, Any], t: Translator) -> str:
    msgid = EVENT_LABELS.get(event_type)
    label = t(msgid) if msgid else event_type
    if event_type in _COUNTED_EVENTS and "quantity" in params:
        label += f" ({params.get('delivered', 0)}/{params['quantity']})"
    if event_type in _REFUND_EVENTS and isinstance(params.get("amount_cents"), int):
        label += f" (¥{format_yuan(params['amount_cents'])})"
    if event_type == OrderEventType.PAID and params.get("source") == "query":
        label = t(
            N_(
                "%(label)s (the payment notice never came; "
                "confirmed by asking the payment platform)"
            ),
            label=label,
        )
    if event_type == OrderEventType.PAID and params.get("late"):
        label = t(N_("%(label)s (arrived after expiry; honoured)"), label=label)
    return label
