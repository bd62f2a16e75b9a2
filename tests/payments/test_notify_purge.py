"""Raw notifies are kept for the retention time; those that brought money in, for good."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kameng.kit import clock
from kameng.models.vocabulary import NotifyVerdict
from kameng.payments.repository import purge_notify_log, record_notify
from tests.factories import transaction


async def _notify(pool: Any, verdict: NotifyVerdict, age_days: int) -> None:
    async with transaction(pool) as conn:
        await record_notify(
            conn,
            gateway="epay",
            now=clock.now() - timedelta(days=age_days),
            http_method="GET",
            raw_query=f"{verdict.value}-{age_days}",
            raw_body="",
            remote_addr="198.51.100.7",
            out_trade_no=None,
            trade_no=None,
            verdict=verdict,
            detail="",
            order_id=None,
        )


async def _left(pool: Any) -> list[str]:
    async with transaction(pool) as conn:
        cur = await conn.execute("SELECT raw_query FROM payment_notifies ORDER BY id")
        return [r[0] for r in await cur.fetchall()]


async def test_purge_keeps_money_and_recent_rows(pool: Any) -> None:
    for verdict in (
        NotifyVerdict.ACCEPTED,
        NotifyVerdict.ACCEPTED_LATE,
        NotifyVerdict.SECOND_PAYMENT,
        NotifyVerdict.DUPLICATE,
        NotifyVerdict.BAD_SIGNATURE,
    ):
        await _notify(pool, verdict, 40)
        await _notify(pool, verdict, 10)
    async with transaction(pool) as conn:
        removed = await purge_notify_log(conn, before=clock.now() - timedelta(days=30), limit=1)
    assert removed == 1  # bounded batches
    async with transaction(pool) as conn:
        removed = await purge_notify_log(conn, before=clock.now() - timedelta(days=30), limit=100)
    assert removed == 1
    assert await _left(pool) == [
        "accepted-40",
        "accepted-10",
        "accepted_late-40",
        "accepted_late-10",
        "second_payment-40",
        "second_payment-10",
        "duplicate-10",
        "bad_signature-10",
    ]
