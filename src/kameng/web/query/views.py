"""Lookup answers for the API and the pages: what each identifier may show."""

from __future__ import annotations

import asyncio

from fastapi import Request

from kameng.kit.i18n import Translator
from kameng.kit.passwords import verify_password
from kameng.lookup.service import LookupResult, Proof
from kameng.lookup.texts import message
from kameng.orders.schemas import LookupOut, summary
from kameng.orders.texts import status_label
from kameng.web.deps import browser_owns
from kameng.web.runtime import Runtime


async def check_password(stored: str | None, password: str) -> bool:
    """Query-password check off the event loop (argon2 costs tens of ms)."""
    return await asyncio.to_thread(verify_password, stored, password)


def proof(
    request: Request, rt: Runtime, *, password: str | None = None, contact: str | None = None
) -> Proof:
    return Proof(
        owns=lambda number: browser_owns(request, rt, number),
        password=password or None,
        contact=contact or None,
        check_password=check_password,
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
