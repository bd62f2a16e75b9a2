"""What each status and timeline event means, in the buyer's words.

Why an order is where it is (the article's five causes) is
``kameng.orders.explain``. The words are msgids of the gettext catalogue; the
caller passes the translator for the buyer's language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kameng.kit.i18n import N_, Translator
from kameng.kit.money import format_yuan
from kameng.kit.timefmt import DEFAULT_ZONE, local
from kameng.models.vocabulary import OrderEventType, OrderStatus, ProductKind

# Every status and every event type has its words (tests/orders/test_texts.py).
STATUS_LABELS: dict[OrderStatus, str] = {
    OrderStatus.UNPAID: N_("Awaiting payment"),
    OrderStatus.EXPIRED: N_("Expired"),
    OrderStatus.PAID: N_("Paid"),
    OrderStatus.AWAITING_STOCK: N_("Paid · waiting for stock"),
    OrderStatus.DELIVERED: N_("Delivered"),
    OrderStatus.FULFILLING: N_("Paid · with the supplier"),
    OrderStatus.AWAITING_OPERATOR: N_("Paid · waiting for staff"),
    OrderStatus.FAILED: N_("Could not be fulfilled · refund"),
    OrderStatus.UNDER_REVIEW: N_("Paid · security check"),
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
    OrderEventType.FULFILLING: N_("Handed to the supply system"),
    OrderEventType.SENT_TO_SUPPLIER: N_("Sent to the supplier %(supplier)s"),
    OrderEventType.SUPPLIER_SLOW: N_(
        "The supplier %(supplier)s is slow to answer; we keep checking (never sent twice)"
    ),
    OrderEventType.SUPPLIER_SWITCHED: N_(
        "Supplier %(supplier)s could not do it (%(reason)s); switched to %(to)s"
    ),
    OrderEventType.SUPPLIER_WAITING: N_(
        "Supplier %(supplier)s is unavailable (%(reason)s); expected back at %(until)s"
    ),
    OrderEventType.TOPPED_UP: N_("Topped up by the supplier %(supplier)s"),
    OrderEventType.FULFILMENT_FAILED: N_(
        "Could not be fulfilled (%(reason)s); the payment is refunded in full"
    ),
    OrderEventType.ESCALATED: N_("Taking longer than promised; the shop's staff have been alerted"),
    OrderEventType.AWAITING_OPERATOR: N_("Paid; waiting for the shop's staff to fulfil it"),
    OrderEventType.MANUAL_DELIVERED: N_("Fulfilled by the shop's staff"),
    OrderEventType.TICKET_OPENED: N_("Support ticket %(ticket)s opened"),
    OrderEventType.TICKET_REPLIED: N_("Support replied (ticket %(ticket)s): %(reply)s"),
    OrderEventType.TICKET_CLOSED: N_("Support ticket %(ticket)s closed"),
    OrderEventType.TICKET_FOLLOWED_UP: N_("A message was added to support ticket %(ticket)s"),
    OrderEventType.RISK_HELD: N_(
        "Payment received; held for a security check (%(reason)s) before delivery, "
        "decided by %(until)s"
    ),
    OrderEventType.REVIEW_APPROVED: N_("Security check passed; the order is being fulfilled"),
    OrderEventType.REVIEW_REJECTED: N_(
        "Not approved by the security check; the payment is refunded in full"
    ),
}

_TICKET_EVENTS = frozenset(
    {
        OrderEventType.TICKET_OPENED,
        OrderEventType.TICKET_REPLIED,
        OrderEventType.TICKET_CLOSED,
        OrderEventType.TICKET_FOLLOWED_UP,
    }
)

# What a product is, as the buyer calls it (the support form names it).
KIND_LABELS: dict[ProductKind, str] = {
    ProductKind.CARD_KEY: N_("Card key (卡密)"),
    ProductKind.TOPUP: N_("Direct top-up (直充)"),
    ProductKind.UPSTREAM_CARD: N_("Card from a supplier"),
    ProductKind.MANUAL: N_("Fulfilled by staff"),
}

# Why a risk rule held an order (``risk_held`` events' ``reason``), in the buyer's words.
REVIEW_REASONS: dict[str, str] = {
    "amount": N_("a large amount"),
    "velocity": N_("many orders from this contact in a short time"),
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

# Machine words in supply events' ``reason`` (kameng.fulfilment.supply), in the buyer's words.
SUPPLY_REASONS: dict[str, str] = {
    "failed": N_("the supplier reported a failure"),
    "refused": N_("the supplier did not accept the order"),
    "maintenance": N_("maintenance"),
    "balance": N_("the supplier is out of stock"),
    "price": N_("the supplier's price changed"),
    "breaker": N_("too many errors recently"),
    "suppliers_failed": N_("every supplier failed"),
    "no_supplier": N_("no supplier is available for this product"),
    "deadline": N_("the deadline passed"),
    "out_of_stock": N_("out of stock past the deadline"),
    "disabled": N_("the supplier is switched off"),
}
REASON_STOCK = "out_of_stock"
_SUPPLY_EVENTS = frozenset(
    {
        OrderEventType.SENT_TO_SUPPLIER,
        OrderEventType.SUPPLIER_SLOW,
        OrderEventType.SUPPLIER_SWITCHED,
        OrderEventType.SUPPLIER_WAITING,
        OrderEventType.TOPPED_UP,
        OrderEventType.FULFILMENT_FAILED,
    }
)

_COUNTED_EVENTS = frozenset(
    {OrderEventType.AWAITING_STOCK, OrderEventType.PARTIALLY_DELIVERED, OrderEventType.DELIVERED}
)


def kind_label(kind: ProductKind, t: Translator) -> str:
    msgid = KIND_LABELS.get(kind)
    return t(msgid) if msgid else kind


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
    if event_type in _SUPPLY_EVENTS:
        reason = SUPPLY_REASONS.get(str(params.get("reason", "")))
        label = t(
            msgid or event_type,
            supplier=params.get("supplier", ""),
            to=params.get("to", ""),
            until=local_iso(params.get("until")),
            reason=t(reason) if reason else str(params.get("reason", "")),
        )
    if event_type == OrderEventType.FULFILMENT_FAILED and params.get("delivered"):
        # Part was delivered: only the rest is refunded, not "in full".
        label = t(
            N_("Could not be fulfilled in full (%(reason)s); the undelivered part is refunded"),
            reason=t(SUPPLY_REASONS[REASON_STOCK]),
        )
    if event_type == OrderEventType.RISK_HELD:
        why = REVIEW_REASONS.get(str(params.get("reason", "")))
        label = t(
            msgid or event_type,
            reason=t(why) if why else str(params.get("reason", "")),
            until=local_iso(params.get("until")),
        )
    if event_type == OrderEventType.ESCALATED and params.get("review"):
        label = t(
            N_("The security check takes longer than promised; the shop's staff have been alerted")
        )
    if event_type == OrderEventType.ESCALATED and params.get("stock"):
        label = t(
            N_(
                "Still out of stock, later than promised; the shop's staff have been alerted. "
                "Refunded automatically at %(until)s unless the keys arrive first"
            ),
            until=local_iso(params.get("next")),
        )
    if event_type in _TICKET_EVENTS and msgid:
        label = t(msgid, ticket=params.get("ticket", ""), reply=params.get("reply", ""))
    if event_type == OrderEventType.PAID and params.get("late"):
        label = t(N_("%(label)s (arrived after expiry; honoured)"), label=label)
    return label


def local_iso(value: object, zone_name: str = DEFAULT_ZONE) -> str:
    """An ISO time stored in an event's params, as the buyer's clock shows it."""
    try:
        return local(datetime.fromisoformat(str(value)), zone_name)
    except ValueError:
        return ""
