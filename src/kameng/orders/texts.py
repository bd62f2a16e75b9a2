"""What each status and timeline event means, in the buyer's words.

Every status answers "where is my order, why, and what happens next" — the
article's five causes start here with the two that apply to card keys:
payment state and stock. The words are msgids of the gettext catalogue; the
caller passes the translator for the buyer's language.
"""

from __future__ import annotations

from typing import Any

from kameng.kit.i18n import N_, Translator
from kameng.kit.money import format_yuan
from kameng.kit.timefmt import DEFAULT_ZONE, local
from kameng.models.vocabulary import OrderEventType, OrderStatus
from kameng.orders.repository import OrderRow

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

EXPLANATIONS: dict[OrderStatus, str] = {
    OrderStatus.UNPAID: N_(
        "Not paid yet (¥%(amount)s). Pay before %(deadline)s; the card keys appear here at once."
    ),
    OrderStatus.EXPIRED: N_(
        "Expired unpaid. If you did pay, don't worry: when the payment platform confirms it, "
        "the order is revived and delivered automatically."
    ),
    OrderStatus.PAID: N_(
        "Payment received; the card keys are being issued, usually within seconds."
    ),
    OrderStatus.AWAITING_STOCK: N_(
        "Paid, but out of stock (%(delivered)s/%(quantity)s delivered). Keys are delivered "
        "automatically on restock, first paid first served; your money is safe."
    ),
    OrderStatus.DELIVERED: N_(
        "Delivered. This product is a card key: your goods are the card number and password "
        "below; there is no courier tracking number."
    ),
}


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


def deadline(order: OrderRow, t: Translator, zone_name: str = DEFAULT_ZONE) -> str:
    """The payment deadline with its zone: "2026-11-25 20:15 北京时间"."""
    zone_label = t(N_("Beijing time")) if zone_name == DEFAULT_ZONE else zone_name
    return t(N_("%(time)s (%(zone)s)"), time=local(order.expires_at, zone_name), zone=zone_label)


def explain(order: OrderRow, t: Translator, zone_name: str = DEFAULT_ZONE) -> str:
    """Why the order is where it is and what happens next."""
    msgid = EXPLANATIONS.get(order.status)
    if msgid is None:
        return status_label(order.status, t)
    return t(
        msgid,
        amount=format_yuan(order.amount_cents),
        deadline=deadline(order, t, zone_name),
        delivered=order.delivered_quantity,
        quantity=order.quantity,
    )
