"""Why an order is where it is: one engine for the page, the lookup and the API.

The article names five reasons a buyer finds no number (``Cause``). For an order
that is not final, ``explain`` names the cause, says it in the buyer's language,
gives the expected time and what the buyer can do. It reads the order's status
and its latest timeline event: an event that changes the story (a second
payment, a refund under way or failing) speaks over the status; every other
event leaves the word to the status.

Every status and every event type is mapped explicitly
(tests/orders/test_explain.py); a state this module does not know yet (one a
newer fulfilment engine adds) still gets a safe, generic "being processed".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kameng.kit.i18n import N_, Translator
from kameng.kit.money import format_yuan
from kameng.kit.timefmt import DEFAULT_ZONE, local, zone
from kameng.models.vocabulary import OrderEventType, OrderStatus, ProductKind
from kameng.notices.repository import NoticeRow
from kameng.orders.repository import EventRow, OrderRow


class Cause(StrEnum):
    """The article's five reasons there is no number (yet)."""

    NOT_PAID = "not_paid"  # not paid, expired, or paid and under review
    PROCESSING = "processing"  # the shop is working on it: issuing, waiting for stock
    UPSTREAM = "upstream"  # a supplier, courier or payment platform failed; retried
    RISK_HOLD = "risk_hold"  # the payment looked unusual and is held for a check
    BUYER_MISTAKE = "buyer_mistake"  # paid twice, wrong number, wrong place to look


class ActionKind(StrEnum):
    PAY = "pay"
    WAIT = "wait"
    CONTACT_SUPPORT = "contact_support"


# A headline per cause (the page and API show it beside the text).
CAUSE_TITLES: dict[Cause, str] = {
    Cause.NOT_PAID: N_("Not paid yet"),
    Cause.PROCESSING: N_("Being processed"),
    Cause.UPSTREAM: N_("A partner's system failed; we are retrying"),
    Cause.RISK_HOLD: N_("Held for a security check"),
    Cause.BUYER_MISTAKE: N_("Something to check on your side"),
}

# Card keys are issued in the payment's own transaction; a paid order still
# without them after this long is late, and the buyer is offered support.
ISSUE_WITHIN = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    label: str
    url: str | None = None  # PAY: the pay link; CONTACT_SUPPORT: the ticket form
    until: datetime | None = None  # WAIT: wait until then


@dataclass(frozen=True, slots=True)
class ShownNotice:
    """An operator's announcement that touches the order, in the buyer's language."""

    text: str
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Explanation:
    cause: Cause | None  # None: the order is final, nothing to wait for
    title: str
    text: str
    expected_at: datetime | None
    actions: tuple[Action, ...]
    # Active announcements touching the order (supplier maintenance, a channel down …).
    notices: tuple[ShownNotice, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    cause: Cause | None
    text: str  # msgid; parameters: amount, deadline, delivered, quantity, until
    wait: bool = False  # offer "wait" (until expected_at when there is one)
    support: bool = False  # offer "contact support" at once (late orders get it anyway)


STATUS_RULES: dict[OrderStatus, Rule] = {
    OrderStatus.UNPAID: Rule(
        Cause.NOT_PAID,
        N_(
            # The title already says "not paid yet": the text does not repeat it.
            "Amount due: ¥%(amount)s. Pay before %(deadline)s; the card keys appear here at once."
        ),
    ),
    OrderStatus.EXPIRED: Rule(
        Cause.NOT_PAID,
        N_(
            "Expired unpaid. If you did pay, don't worry: when the payment platform confirms "
            "it, the order is revived and delivered automatically."
        ),
        support=True,
    ),
    OrderStatus.PAID: Rule(
        Cause.PROCESSING,
        N_("Payment received; the card keys are being issued, usually within seconds."),
        wait=True,
    ),
    OrderStatus.AWAITING_STOCK: Rule(
        Cause.PROCESSING,
        N_(
            "Paid, but out of stock (%(delivered)s/%(quantity)s delivered). Keys are delivered "
            "automatically on restock, first paid first served; your money is safe."
        ),
        wait=True,
        support=True,
    ),
    OrderStatus.DELIVERED: Rule(
        None,
        N_(
            "Delivered. This product is a card key: your goods are the card number and "
            "password below; there is no courier tracking number."
        ),
    ),
    OrderStatus.FULFILLING: Rule(
        Cause.PROCESSING,
        N_(
            "Paid. The order is with our supplier, usually done within minutes; if a supplier "
            "fails we switch to another, and if none can do it by the deadline you are "
            "refunded in full. Nothing is ever sent twice."
        ),
        wait=True,
    ),
    OrderStatus.AWAITING_OPERATOR: Rule(
        Cause.PROCESSING,
        N_(
            "Paid. This product is fulfilled by the shop's staff by hand; what they deliver "
            "appears here. If it is not done by the deadline you are refunded in full."
        ),
        wait=True,
    ),
    OrderStatus.UNDER_REVIEW: Rule(
        Cause.RISK_HOLD,
        N_(
            "Your payment is received and safe. This order is held for a routine security "
            "check by the shop's staff before delivery (see the timeline for why), decided by "
            "%(until)s. If it is not approved, you are refunded in full."
        ),
        wait=True,
        support=True,
    ),
    OrderStatus.FAILED: Rule(
        None,
        N_(
            "This order could not be fulfilled; your payment is being refunded in full to "
            "where it came from."
        ),
    ),
}

# Delivered, by what the product is (the buyer wonders where the goods are).
DELIVERED_BY_KIND: dict[ProductKind, str] = {
    ProductKind.TOPUP: N_(
        "Topped up. This product is a direct top-up to the account you entered; the "
        "supplier's receipt number is below. There is no card key and no tracking number."
    ),
    ProductKind.MANUAL: N_(
        "Delivered by the shop's staff; what they delivered is below (shown to you only)."
    ),
}

# None: the event leaves the word to the order's status (explicitly).
EVENT_RULES: dict[OrderEventType, Rule | None] = {
    OrderEventType.CREATED: None,
    OrderEventType.PAID: None,
    OrderEventType.EXPIRED: None,
    OrderEventType.AWAITING_STOCK: None,
    OrderEventType.PARTIALLY_DELIVERED: None,
    OrderEventType.DELIVERED: None,
    OrderEventType.SECOND_PAYMENT: Rule(
        Cause.BUYER_MISTAKE,
        N_(
            "This order was paid twice. The order itself is fine; the extra payment is "
            "refunded automatically."
        ),
        wait=True,
    ),
    OrderEventType.REFUND_REQUESTED: Rule(
        Cause.PROCESSING,
        N_("A refund is being prepared; it is sent to the payment platform automatically."),
        wait=True,
    ),
    OrderEventType.REFUND_SUBMITTED: Rule(
        Cause.PROCESSING,
        N_("The refund was sent to the payment platform; we are waiting for its answer."),
        wait=True,
    ),
    OrderEventType.REFUND_SUCCEEDED: None,
    OrderEventType.REFUND_FAILED: Rule(
        Cause.UPSTREAM,
        N_("The payment platform did not accept the refund yet; it is retried automatically."),
        wait=True,
    ),
    OrderEventType.REFUND_GIVEN_UP: Rule(
        Cause.UPSTREAM,
        N_(
            "The refund could not be completed automatically. The shop will contact you; "
            "you can also contact support now."
        ),
        support=True,
    ),
    OrderEventType.FULFILLING: None,
    OrderEventType.SENT_TO_SUPPLIER: None,
    OrderEventType.SUPPLIER_SLOW: Rule(
        Cause.UPSTREAM,
        N_(
            "The supplier is slow to answer; we keep checking and never send your order twice. "
            "If it cannot be done by the deadline you are refunded in full."
        ),
        wait=True,
    ),
    OrderEventType.SUPPLIER_SWITCHED: Rule(
        Cause.UPSTREAM,
        N_("A supplier could not do it; your order went to another supplier."),
        wait=True,
    ),
    OrderEventType.SUPPLIER_WAITING: Rule(
        Cause.UPSTREAM,
        N_(
            "The supplier is unavailable for now (see the timeline for until when); the order "
            "goes out when it is back, or is refunded in full at its deadline."
        ),
        wait=True,
    ),
    OrderEventType.TOPPED_UP: None,
    OrderEventType.FULFILMENT_FAILED: None,
    OrderEventType.ESCALATED: Rule(
        Cause.UPSTREAM,
        N_("This is taking longer than promised; the shop's staff have been alerted."),
        wait=True,
        support=True,
    ),
    OrderEventType.AWAITING_OPERATOR: None,
    OrderEventType.MANUAL_DELIVERED: None,
    # Support conversation: the order's own story is told by its status.
    OrderEventType.TICKET_OPENED: None,
    OrderEventType.TICKET_REPLIED: None,
    OrderEventType.TICKET_CLOSED: None,
    OrderEventType.TICKET_FOLLOWED_UP: None,
    OrderEventType.RISK_HELD: None,
    OrderEventType.REVIEW_APPROVED: None,
    OrderEventType.REVIEW_REJECTED: None,
}

# Out of stock past the SLA (fulfilment.stock_deadline escalated it): the refund time.
STOCK_LATE = Rule(
    Cause.PROCESSING,
    N_(
        "Still out of stock (%(delivered)s/%(quantity)s delivered), later than promised; the "
        "shop's staff have been alerted. If the keys do not arrive by %(until)s, you are "
        "refunded automatically for what was not delivered."
    ),
    wait=True,
    support=True,
)

# Timeline entries of the support conversation (kameng.tickets).
CONVERSATION = frozenset(
    {
        OrderEventType.TICKET_OPENED,
        OrderEventType.TICKET_REPLIED,
        OrderEventType.TICKET_CLOSED,
        OrderEventType.TICKET_FOLLOWED_UP,
    }
)

GENERIC = Rule(
    Cause.PROCESSING,
    N_("Your order is being processed; this page updates by itself."),
    wait=True,
    support=True,
)


def rule_for(status: str, latest: OrderEventType | str | None) -> Rule:
    """The rule that speaks: the latest event's if it has one, else the status's;
    anything unknown falls back to the generic "being processed"."""
    if latest is not None:
        if latest not in EVENT_RULES:
            return GENERIC
        event_rule = EVENT_RULES[OrderEventType(latest)]
        if event_rule is not None:
            return event_rule
    if status not in STATUS_RULES:
        return GENERIC
    return STATUS_RULES[OrderStatus(status)]


def expected_at(order: OrderRow, rule: Rule, now: datetime) -> datetime | None:
    if rule is STATUS_RULES[OrderStatus.UNPAID]:
        return order.expires_at
    if rule is STATUS_RULES[OrderStatus.PAID]:
        return (order.paid_at or now) + ISSUE_WITHIN
    return None


def _moment(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def wall_time(moment: datetime, now: datetime | None, zone_name: str, t: Translator) -> str:
    """Like "20:15 (Beijing time)"; with the date when that is not today there, or
    always when ``now`` is None."""
    here = zone(zone_name)
    same_day = now is not None and moment.astimezone(here).date() == now.astimezone(here).date()
    time = moment.astimezone(here).strftime("%H:%M") if same_day else local(moment, zone_name)
    zone_label = t(N_("Beijing time")) if zone_name == DEFAULT_ZONE else zone_name
    return t(N_("%(time)s (%(zone)s)"), time=time, zone=zone_label)


def explain(
    order: OrderRow,
    events: Sequence[EventRow],
    t: Translator,
    *,
    now: datetime,
    pay_url: str | None = None,
    support_url: str | None = None,
    zone_name: str = DEFAULT_ZONE,
    notices: Sequence[NoticeRow] = (),
) -> Explanation:
    """Where the order is, why, by when, and what the buyer can do.

    ``events`` is the timeline, oldest first (only the latest is read).
    ``notices``: the active announcements that touch this order
    (``kameng.notices.service.touching_order``); an order still moving says so
    in its text, and each notice is given in the buyer's language.
    """
    # A support conversation does not change where the order is: read past it.
    story = [e for e in events if e.type not in CONVERSATION]
    latest = story[-1].type if story else None
    rule = rule_for(order.status, latest)
    expected = expected_at(order, rule, now)
    until = ""
    if order.status == OrderStatus.UNDER_REVIEW:
        # The hold speaks over any later line (an escalation): the cause is the check.
        rule = STATUS_RULES[OrderStatus.UNDER_REVIEW]
        held = [e for e in events if e.type == OrderEventType.RISK_HELD]
        expected = _moment(held[-1].params.get("until")) if held else None
        until = wall_time(expected, now, zone_name, t) if expected else "?"
    elif order.status == OrderStatus.AWAITING_STOCK and latest == OrderEventType.ESCALATED:
        rule = STOCK_LATE
        expected = _moment(story[-1].params.get("next"))
        until = wall_time(expected, now, zone_name, t) if expected else "?"
    late = expected is not None and rule.cause != Cause.NOT_PAID and now > expected
    msgid = rule.text
    if rule is STATUS_RULES[OrderStatus.DELIVERED]:
        msgid = DELIVERED_BY_KIND.get(order.product_kind, msgid)
    text = t(
        msgid,
        amount=format_yuan(order.amount_cents),
        deadline=wall_time(order.expires_at, None, zone_name, t),
        delivered=order.delivered_quantity,
        quantity=order.quantity,
        until=until,
    )
    if late:
        text += " " + t(N_("This is taking longer than usual; please contact support."))
    actions: list[Action] = []
    if rule.cause == Cause.NOT_PAID and order.status == OrderStatus.UNPAID and pay_url:
        actions.append(
            Action(
                ActionKind.PAY,
                t(N_("Pay now ¥%(amount)s"), amount=format_yuan(order.amount_cents)),
                url=pay_url,
            )
        )
    if rule.wait and not late:
        if expected is not None:
            label = t(N_("Wait until %(time)s"), time=wall_time(expected, now, zone_name, t))
        else:
            label = t(N_("Wait: this page updates by itself"))
        actions.append(Action(ActionKind.WAIT, label, until=expected))
    if rule.support or late:
        actions.append(Action(ActionKind.CONTACT_SUPPORT, t(N_("Contact support")), support_url))
    shown = tuple(ShownNotice(n.text_for(t.locale), n.ends_at) for n in notices)
    if shown and rule.cause is not None:
        text += " " + t(N_("The shop has posted a notice that concerns this order (see below)."))
    title = t(CAUSE_TITLES[rule.cause]) if rule.cause else t(N_("Done"))
    return Explanation(rule.cause, title, text, expected, tuple(actions), shown)
