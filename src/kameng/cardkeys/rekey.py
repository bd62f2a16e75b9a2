"""Re-encrypt all stock (sold keys too) under the current card-key encryption key.

After a change of secret (the old one moved to KAMENG_OLD_SECRET_KEYS, or the
old encryption key to KAMENG_OLD_CARD_KEY_ENCRYPTION_KEYS), ``kameng
rekey-cards`` walks ``card_keys`` by id in batches. Each batch is its own short
transaction: lock the batch's keys, open each with whichever configured key
sealed it, seal it again under the current key (new fingerprint, new row
binding), write it back, commit. Interrupted, it resumes where it stopped: keys
already under the current key are not selected again. A key that no configured
key opens stops the run before its batch writes anything; nothing is lost.
Once it reports nothing left, the old keys can be removed from the configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kameng.cardkeys import repository as repo
from kameng.cardkeys.repository import SealedKey
from kameng.db.connection import Conn
from kameng.kit.crypto import CardKeyCipher

DEFAULT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class RekeyResult:
    rekeyed: int
    remaining: int  # keys still not under the current key (0 when done)


def reseal(cipher: CardKeyCipher, key: SealedKey) -> SealedKey:
    """The same card key, sealed under the cipher's current key for its row."""
    number, password = cipher.open(
        key.secret, product_id=key.product_id, fingerprint=key.fingerprint
    )
    fingerprint = cipher.fingerprint(number)
    secret = cipher.seal(number, password, product_id=key.product_id, fingerprint=fingerprint)
    return SealedKey(key.id, key.product_id, fingerprint, secret)


async def rekey_batch(
    conn: Conn, cipher: CardKeyCipher, *, after_id: int, limit: int
) -> tuple[int, int]:
    """Reseal the next batch after ``after_id``, in its own transaction.

    Returns the last id handled (``after_id`` when nothing was left) and how
    many keys were resealed."""
    async with conn.transaction():
        keys = await repo.lock_not_sealed_with(
            conn, prefix=cipher.prefix, after_id=after_id, limit=limit
        )
        count = await repo.rewrite_sealed(conn, [reseal(cipher, key) for key in keys])
    return (keys[-1].id if keys else after_id), count


async def rekey_all(
    conn: Conn,
    cipher: CardKeyCipher,
    *,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> RekeyResult:
    """Reseal every key not under the current key; ``progress(done, total)``
    after each batch. ``conn`` must be idle (each batch commits)."""
    total = await repo.count_not_sealed_with(conn, prefix=cipher.prefix)
    if progress is not None:
        progress(0, total)
    done = 0
    after_id = 0
    while True:
        last, count = await rekey_batch(conn, cipher, after_id=after_id, limit=batch)
        if last == after_id:
            break
        done += count
        after_id = last
        if progress is not None:
            progress(done, max(total, done))
    remaining = await repo.count_not_sealed_with(conn, prefix=cipher.prefix)
    return RekeyResult(rekeyed=done, remaining=remaining)


async def stock_needs_rekey(conn: Conn, cipher: CardKeyCipher) -> bool:
    """True while some key is not under the current key and old keys are
    configured: then fingerprints of that stock were made with another key and
    an import could not see its duplicates, so it waits for the rekey."""
    if not cipher.has_old_keys:
        return False
    return await repo.any_not_sealed_with(conn, prefix=cipher.prefix)
