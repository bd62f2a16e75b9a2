"""The replay store: a nonce is good once until it expires; expired ones are
reclaimable and purged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kameng.db.connection import transaction
from kameng.payments.repository import claim_nonce, purge_expired_nonces
from tests.factories import Sessions, count

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
KEPT = timedelta(minutes=15)


async def claim(pool: Any, nonce: str, now: datetime, gateway: str = "wechatpay") -> bool:
    async with transaction(pool) as conn:
        return await claim_nonce(conn, gateway=gateway, nonce=nonce, now=now, expires_at=now + KEPT)


async def test_a_nonce_is_good_once_per_gateway_until_it_expires(pool: Any, db: Sessions) -> None:
    assert await claim(pool, "n1", T0)
    assert not await claim(pool, "n1", T0 + timedelta(minutes=14))
    assert await claim(pool, "n1", T0, gateway="other")  # another gateway's namespace
    assert await claim(pool, "n1", T0 + timedelta(minutes=16))  # expired: reclaimed
    assert not await claim(pool, "n1", T0 + timedelta(minutes=17))


async def test_purge_removes_only_expired_nonces(pool: Any, db: Sessions) -> None:
    assert await claim(pool, "old", T0)
    assert await claim(pool, "new", T0 + timedelta(minutes=10))
    async with transaction(pool) as conn:
        removed = await purge_expired_nonces(conn, now=T0 + timedelta(minutes=20))
    assert removed == 1
    assert await count(db, "SELECT count(*) FROM notify_nonces WHERE nonce = 'new'") == 1
    assert await count(db, "SELECT count(*) FROM notify_nonces") == 1


async def test_the_worker_purges_expired_nonces(pool: Any, db: Sessions, run_jobs: Any) -> None:
    from kameng.payments.tasks import purge_notify_nonces

    assert await claim(pool, "long-gone", T0)  # expired long before the real clock's now
    await purge_notify_nonces.defer_async(timestamp=0)
    await run_jobs()
    assert await count(db, "SELECT count(*) FROM notify_nonces") == 0
