"""Lookup answers for the API and the pages: what each identifier may show."""

from __future__ import annotations

from fastapi import Request

from kameng.kit.i18n import Translator
from kameng.kit.tokens import check_order_token
from kameng.lookup.service import CheckPassword, LookupResult, Proof
from kameng.lookup.texts import message
from kameng.orders.schemas import LookupOut, summary
from kameng.orders.texts import status_label
from kameng.web.deps import owner_token
from kameng.web.runtime import Runtime


def check_password(rt: Runtime) -> CheckPassword:
    """The shop's one query-password check (keyed hash; never blocks the loop)."""
    return rt.passwords.verify


def browser_owns(request: Request, rt: Runtime, order_no: str) -> bool:
    """This request carries the signed token of the browser that placed the order
    (made with the current secret or one kept in KAMENG_OLD_SECRET_KEYS)."""
    token = owner_token(request, order_no)
    return any(
        check_order_token(secret, order_no, token)
        for secret in (rt.token_secret, *rt.old_token_secrets)
    )


def proof(
    request: Request, rt: Runtime, *, password: str | None = None, contact: str | None = None
) -> Proof:
    return Proof(
        owns=lambda number: browser_owns(request, rt, number),
        password=password or None,
        contact=contact or None,
        check_password=check_password(rt),
    )


def lookup_out(result: LookupResult, t: Translator) -> LookupOut:
    label = status_label(result.status, t) if result.status else None
    return LookupOut(
        kind=result.kind.value,
        normalized=result.normalized,
        message=message(result, t, label or ""),
        order=summary(result.order, t) if result.order else None,
        masked_order_no=result.masked_order_no,
        status=result.status,
        status_label=label,
        suggestions=result.suggestions,
        courier=result.courier,
        card_order_no=result.card_order_no,
    )
