"""Lookup answers in plain words (msgids of the gettext catalogue)."""

from __future__ import annotations

from kameng.kit.i18n import N_, Translator
from kameng.lookup.service import LookupKind, LookupResult

MESSAGES: dict[LookupKind, str] = {
    LookupKind.ORDER: N_("Order found"),
    LookupKind.TRADE_NO: N_("That is the payment platform's trade number; here is its order"),
    LookupKind.SUGGESTIONS: N_(
        "No exact match. Did you mean one of these? (a digit may be mistyped or two swapped)"
    ),
    LookupKind.INVALID: N_("Enter the order number (16 digits) or the payment trade number"),
}

# Why nothing was found (LookupResult.hint).
HINTS: dict[str, str] = {
    "length": N_("Order numbers have 16 digits; you entered %(n)s"),
    "check_digit": N_(
        "The check digit does not match, so it is mistyped, and no close order exists"
    ),
    "unknown": N_(
        "No order or trade with that number. Check it is this shop's order number "
        "(16 digits at the top of the order page), not a card key or tracking number"
    ),
}


def message(result: LookupResult, t: Translator) -> str:
    msgid = MESSAGES.get(result.kind)
    if msgid is not None:
        return t(msgid)
    return t(HINTS.get(result.hint, HINTS["unknown"]), n=len(result.normalized))
