"""Lookup answers in plain words (msgids of the gettext catalogue)."""

from __future__ import annotations

from kameng.kit.i18n import N_, Translator
from kameng.lookup.service import Hint, LookupKind, LookupResult
from kameng.models.vocabulary import TicketStatus

MESSAGES: dict[LookupKind, str] = {
    LookupKind.ORDER: N_("Order found"),
    LookupKind.SUGGESTIONS: N_(
        "No exact match. Did you mean one of these? (a digit may be mistyped or two swapped)"
    ),
    LookupKind.INVALID: N_("Enter the order number (16 digits) or the payment trade number"),
}
TRADE_FOUND = N_("That is the payment platform's trade number; here is its order")
TRADE_MASKED = N_(
    "That is the payment platform's trade number of order %(masked)s (%(status)s). "
    "To open it, enter the query password or the contact given when ordering"
)
TRADE_PROOF_FAILED = N_(
    "The query password or contact does not match the order paid with this trade number"
)
CARD_KEY_OWNER = N_(
    "This is a card key you received from this shop (order %(order_no)s), not an order "
    "number: the card number and password are your goods"
)
CARD_KEY = N_(
    "This is a card key this shop issued, not an order number: the card number and password "
    "are the goods. To see which order it belongs to, open the box in the browser that "
    "ordered it or enter the order's query password"
)
TRACKING = N_(
    "This looks like a %(courier)s courier tracking number, not an order of this shop. This "
    "shop sells virtual goods (card keys) and ships no parcels: look it up on the courier's "
    "site, or enter the 16-digit order number shown after ordering"
)
NO_TRACKING = N_(
    "Order found. Its goods are the card number and password on the order page: card-key "
    "orders have no courier tracking number"
)

TICKET = N_("Support ticket %(ticket_no)s: %(status)s")
TICKET_PROOF_FAILED = N_("The query password or contact does not match the order of this ticket")
TICKET_STATUSES: dict[TicketStatus, str] = {
    TicketStatus.OPEN: N_("waiting for support"),
    TicketStatus.ANSWERED: N_("support has replied"),
    TicketStatus.CLOSED: N_("closed"),
}

# Why nothing was found (LookupResult.hint).
HINTS: dict[Hint, str] = {
    Hint.LENGTH: N_("Order numbers have 16 digits; you entered %(n)s"),
    Hint.CHECK_DIGIT: N_(
        "The check digit does not match, so it is mistyped, and no close order exists"
    ),
    Hint.TRADE_UNKNOWN: N_(
        "This looks like a payment trade number, but no payment of this shop carries it yet. "
        "If you have just paid, wait a minute and try again; otherwise check it was paid to "
        "this shop"
    ),
    Hint.TICKET_UNKNOWN: N_(
        "No support ticket with that number. Ticket numbers are T and 13 digits, shown "
        "when the ticket was sent"
    ),
    Hint.UNKNOWN: N_(
        "No order or trade with that number. Check it is this shop's order number "
        "(16 digits at the top of the order page), not a card key or tracking number"
    ),
}


def message(result: LookupResult, t: Translator, status_label: str = "") -> str:
    match result.kind:
        case LookupKind.TRADE_NO:
            if result.order is not None:
                return t(TRADE_FOUND)
            if result.hint == Hint.PROOF_FAILED:
                return t(TRADE_PROOF_FAILED)
            return t(TRADE_MASKED, masked=result.masked_order_no or "", status=status_label)
        case LookupKind.CARD_KEY:
            if result.card_order_no:
                return t(CARD_KEY_OWNER, order_no=result.card_order_no)
            return t(CARD_KEY)
        case LookupKind.TRACKING_NO:
            return t(TRACKING, courier=result.courier or "")
        case LookupKind.TICKET if result.ticket is not None:
            if result.hint == Hint.PROOF_FAILED:
                return t(TICKET_PROOF_FAILED)
            return t(TICKET, ticket_no=result.ticket.ticket_no, status=ticket_status(result, t))
        case LookupKind.ORDER if result.hint == Hint.NO_TRACKING:
            return t(NO_TRACKING)
    msgid = MESSAGES.get(result.kind)
    if msgid is not None:
        return t(msgid)
    return t(HINTS.get(result.hint, HINTS[Hint.UNKNOWN]), n=len(result.normalized))


def ticket_status(result: LookupResult, t: Translator) -> str:
    return t(TICKET_STATUSES[result.ticket.status]) if result.ticket else ""
