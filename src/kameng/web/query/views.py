"""Lookup answers for the API and the pages: what each identifier may show."""

from __future__ import annotations

from fastapi import Request

from kameng.db.connection import Conn, single_statements
from kameng.kit import clock
from kameng.kit.i18n import Translator
from kameng.kit.tokens import check_order_token
from kameng.lookup.service import (
    CheckPassword,
    LookupResult,
    Proof,
    lookup,
    normalize_contact,
    orders_of_contact,
)
from kameng.lookup.texts import message
from kameng.models.vocabulary import OrderStatus
from kameng.notices.repository import NoticeRow
from kameng.orders import service as orders
from kameng.orders.explain import explain
from kameng.orders.repository import OrderRow
from kameng.orders.schemas import ExplanationOut, LookupOut, explanation_out, summary
from kameng.orders.texts import status_label
from kameng.web import shared
from kameng.web.deps import owner_token
from kameng.web.query import limits
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


async def explained(
    conn: Conn, rt: Runtime, result: LookupResult, t: Translator, board: list[NoticeRow]
) -> ExplanationOut | None:
    """The explanation of the order the lookup opened (none when it opened none).
    ``board`` is ``rt.notices.get()``, read before ``conn`` was taken (a snapshot
    rebuild takes a connection of its own)."""
    order = result.order
    if order is None:
        return None
    timeline = await orders.timeline_of(conn, order.id)
    touching = await shared.notices_touching(conn, board, order)
    await rt.gateways.refresh(conn)
    why = explain(
        order,
        timeline,
        t,
        now=clock.now(),
        pay_url=shared.pay_url(rt, order) if order.status == OrderStatus.UNPAID else None,
        support_url=shared.support_url(order.order_no),
        zone_name=rt.settings.display_timezone,
        notices=touching,
    )
    return explanation_out(why)


def lookup_out(
    result: LookupResult, t: Translator, explanation: ExplanationOut | None = None
) -> LookupOut:
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
        explanation=explanation,
        ticket_no=result.ticket.ticket_no if result.ticket else None,
        ticket_status=result.ticket.status.value if result.ticket else None,
        ticket_url=f"/t/{result.ticket.ticket_no}" if result.ticket else None,
    )


async def run_lookup(
    request: Request,
    rt: Runtime,
    q: str,
    *,
    password: str | None = None,
    contact: str | None = None,
    solution: str | None = None,
) -> LookupResult:
    """The lookup within the address's and the identifier's budgets."""
    result, _ = await _lookup_within_budget(
        request, rt, q, password=password, contact=contact, solution=solution
    )
    return result


async def run_explained_lookup(
    request: Request,
    rt: Runtime,
    q: str,
    t: Translator,
    *,
    password: str | None = None,
    contact: str | None = None,
    solution: str | None = None,
) -> LookupOut:
    """The lookup's JSON answer: the lookup and the explanation of the order it
    opened on one pooled connection (``run_lookup`` and ``explained``)."""
    result, why = await _lookup_within_budget(
        request, rt, q, password=password, contact=contact, solution=solution, explain_in=t
    )
    return lookup_out(result, t, why)


async def _lookup_within_budget(
    request: Request,
    rt: Runtime,
    q: str,
    *,
    password: str | None,
    contact: str | None,
    solution: str | None,
    explain_in: Translator | None = None,
) -> tuple[LookupResult, ExplanationOut | None]:
    identifier = " ".join(q.split())[:200] if (password or contact) else None
    await limits.before(rt, request, identifier=identifier, solution=solution)
    given = proof(request, rt, password=password, contact=contact)
    board = await rt.notices.get() if explain_in is not None else []
    # Reads only, each its own statement (no BEGIN/COMMIT round trips): a
    # lookup and its order's timeline seen a moment apart explain no worse.
    async with single_statements(rt.pool) as conn:
        result = await lookup(conn, q, given, fingerprint=rt.cipher.fingerprint)
        why = None
        if explain_in is not None:
            why = await explained(conn, rt, result, explain_in, board)
    await limits.after(rt, request, result, identifier=identifier)
    return result, why


async def run_contact_lookup(
    request: Request, rt: Runtime, contact: str, password: str, *, page: int, solution: str | None
) -> tuple[list[OrderRow], bool]:
    identifier = "contact:" + normalize_contact(contact)
    await limits.before(rt, request, identifier=identifier, solution=solution)
    async with single_statements(rt.pool) as conn:
        found, more = await orders_of_contact(
            conn, contact, password, check_password(rt), page=page
        )
    if not found:
        await limits.proof_failed(rt, identifier)
    return found, more
