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
from kameng.orders.repository import OrderRow

STATUS_LABELS: dict[str, str] = {
    "unpaid": N_("Awaiting payment"),
    "expired": N_("Expired"),
    "paid": N_("Paid"),
    "awaiting_stock": N_("Paid · waiting for stock"),
    "delivered": N_("Delivered"),
}

EVENT_LABELS: dict[str, str] = {
    "created": N_("Order created, number issued"),
    "paid": N_("Payment received"),
    "delivered": N_("Card keys delivered"),
    "awaiting_stock": N_("Out of stock; will be delivered automatically on restock"),
    "partially_delivered": N_("Part of the card keys delivered"),
    "expired": N_("Not paid in time; order expired"),
    "second_payment": N_("Paid twice; the extra payment will be refunded"),
}

_COUNTED_EVENTS = ("awaiting_stock", "partially_delivered", "delivered")

EXPLANATIONS: dict[str, str] = {
    "unpaid": N_(
        "Not paid yet (¥%(amount)s). Pay before %(deadline)s; the card keys appear here at once."
    ),
    "expired": N_(
        "Expired unpaid. If you did pay, don't worry: when the payment platform confirms it, "
        "the order is revived and delivered automatically."
    ),
    "paid": N_("Payment received; the card keys are being issued, usually within seconds."),
    "awaiting_stock": N_(
        "Paid, but out of stock (%(delivered)s/%(quantity)s delivered). Keys are delivered "
        "automatically on restock, first paid first served; your money is safe."
    ),
    "delivered": N_(
        "Delivered. This product is a card key: your goods are the card number and password "
        "below; there is no courier tracking number."
    ),
}


def status_label(status: str, t: Translator) -> str:
    msgid = STATUS_LABELS.get(status)
    return t(msgid) if msgid else status


def event_label(event_type: str, params: dict[str, Any], t: Translator) -> str:
    msgid = EVENT_LABELS.get(event_type)
    label = t(msgid) if msgid else event_type
    if event_type in _COUNTED_EVENTS and "quantity" in params:
        label += f" ({params.get('delivered', 0)}/{params['quantity']})"
    if event_type == "paid" and params.get("source") == "query":
        label = t(
            N_(
                "%(label)s (the payment notice never came; "
                "confirmed by asking the payment platform)"
            ),
            label=label,
        )
    if event_type == "paid" and params.get("late"):
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
