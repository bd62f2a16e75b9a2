"""``kameng refund ORDER [--amount YUAN] --reason TEXT``: an operator's refund.

Records the refund through ``request_refund`` (the worker carries it out at
the gateway) and prints what was recorded, in the operator's language
(``KAMENG_LANG``, then ``LANG``). The idempotency key defaults to one derived
from the order, amount and reason, so running the same command twice refunds
once; ``--key`` sets it explicitly.

Exit codes: 0 recorded (or already recorded), 1 refused (the domain error is
printed), 2 bad input.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys

import psycopg

from kameng.config import Settings
from kameng.db.embedded import resolve_database_url
from kameng.db.engine import libpq_url
from kameng.kit import clock
from kameng.kit.errors import DomainError
from kameng.kit.i18n import N_, Translator, locale_from_env, translator
from kameng.kit.money import MoneyFormatError, format_yuan, parse_yuan
from kameng.models.vocabulary import Actor
from kameng.refunds.repository import RefundRow
from kameng.refunds.service import request_refund

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_INPUT = 2

BAD_AMOUNT = N_("“%(value)s” is not an amount in yuan (e.g. 12.50)")
NO_ORDER = N_("No order %(order_no)s. Please check the order number (16 digits).")
RECORDED = N_(
    "Refund %(refund_no)s of ¥%(amount)s for order %(order_no)s: %(state)s "
    "(the worker sends it to the payment platform)"
)
EMPTY_REASON = N_("A reason is required (--reason)")


def refund_command(
    order_no: str,
    *,
    amount: str | None,
    reason: str,
    key: str | None,
    settings: Settings,
) -> int:
    t = translator(locale_from_env())
    cents: int | None = None
    if amount is not None:
        try:
            cents = parse_yuan(amount)
        except MoneyFormatError:
            _say(t(BAD_AMOUNT, value=amount))
            return EXIT_INPUT
    if not reason.strip():
        _say(t(EMPTY_REASON))
        return EXIT_INPUT
    digest = hashlib.sha256(f"{order_no}|{amount or 'all'}|{reason}".encode()).hexdigest()
    idempotency_key = key or f"cli:{digest[:40]}"
    url, server = resolve_database_url(settings.database_url, settings.data_dir)
    try:
        return asyncio.run(_refund(url, order_no, cents, reason.strip(), idempotency_key, t))
    finally:
        del server


async def _refund(
    url: str, order_no: str, cents: int | None, reason: str, key: str, t: Translator
) -> int:
    async with await psycopg.AsyncConnection.connect(libpq_url(url)) as conn:
        try:
            async with conn.transaction():
                row = await conn.execute(
                    "SELECT id FROM orders WHERE order_no = %(n)s", {"n": order_no}
                )
                found = await row.fetchone()
                if found is None:
                    _say(t(NO_ORDER, order_no=order_no))
                    return EXIT_REFUSED
                refund: RefundRow = await request_refund(
                    conn,
                    order_id=int(found[0]),
                    amount_cents=cents,
                    reason=reason,
                    idempotency_key=key,
                    actor=Actor.OPERATOR,
                    now=clock.now(),
                )
        except DomainError as error:
            _say(error.translated(t))
            return EXIT_REFUSED
    _say(
        t(
            RECORDED,
            refund_no=refund.refund_no,
            amount=format_yuan(refund.amount_cents),
            order_no=order_no,
            state=refund.state.value,
        )
    )
    return EXIT_OK


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")
