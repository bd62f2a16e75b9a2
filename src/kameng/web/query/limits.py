"""How often one address may use the lookup box (counters in PostgreSQL).

Every lookup counts per address; a lookup that finds nothing (or a mistyped
number) also counts as a miss, and after a few misses the address must solve
an offline proof-of-work check (ALTCHA) to go on. Password or contact
attempts count per identifier (trade number, contact) as well, so spreading
guesses over many addresses does not help either.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request

from kameng.kit import clock
from kameng.limits.service import Rule
from kameng.lookup.errors import CaptchaRequired, TooManyLookups, TooManyProofs
from kameng.lookup.service import Hint, LookupKind, LookupResult
from kameng.web import captcha
from kameng.web.runtime import Runtime

LOOKUPS_PER_ADDRESS = Rule("lookup-address", 120, timedelta(minutes=10))
MISSES_PER_ADDRESS = Rule("lookup-miss-address", 5, timedelta(minutes=10))
PROOFS_PER_IDENTIFIER = Rule("lookup-proof", 10, timedelta(minutes=15))

MISSES = (LookupKind.NOT_FOUND, LookupKind.SUGGESTIONS, LookupKind.INVALID)


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def before(
    rt: Runtime, request: Request, *, identifier: str | None = None, solution: str | None = None
) -> None:
    """Refuse when the address or the identifier has used up its budget.

    The lookup counter, the identifier's proof count and the address's miss
    count are one statement (one round trip to PostgreSQL) before each lookup.
    """
    now = clock.now()
    where = address(request)
    lookups, (proofs, misses) = await rt.limiter.hit_and_count(
        LOOKUPS_PER_ADDRESS,
        where,
        now,
        [(PROOFS_PER_IDENTIFIER, identifier or None), (MISSES_PER_ADDRESS, where)],
    )
    if lookups > LOOKUPS_PER_ADDRESS.limit:
        raise TooManyLookups(minutes=LOOKUPS_PER_ADDRESS.minutes)
    if proofs >= PROOFS_PER_IDENTIFIER.limit:
        raise TooManyProofs(minutes=PROOFS_PER_IDENTIFIER.minutes)
    over = misses >= MISSES_PER_ADDRESS.limit
    if over and not (solution and await captcha.accept(rt, solution, now)):
        raise CaptchaRequired()


async def after(
    rt: Runtime, request: Request, result: LookupResult, *, identifier: str | None = None
) -> None:
    now = clock.now()
    if result.kind in MISSES:
        await rt.limiter.hit(MISSES_PER_ADDRESS, address(request), now)
    if identifier and result.hint == Hint.PROOF_FAILED:
        await rt.limiter.hit(PROOFS_PER_IDENTIFIER, identifier, now)


async def proof_failed(rt: Runtime, identifier: str) -> None:
    await rt.limiter.hit(PROOFS_PER_IDENTIFIER, identifier, clock.now())
