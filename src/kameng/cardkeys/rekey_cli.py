"""``kameng rekey-cards``: move all stock to the current card-key encryption key.

Exit codes: 0 every key is under the current key, 3 database error, a key
that no configured key opens (the batch that met it wrote nothing) or keys left.
"""

from __future__ import annotations

import asyncio

import psycopg
from rich.console import Console

from kameng.cardkeys.rekey import DEFAULT_BATCH, RekeyResult, rekey_all
from kameng.config import Settings
from kameng.db.embedded import resolve_database_url
from kameng.db.engine import libpq_url
from kameng.kit.crypto import CardKeyCipher, CardKeyUnreadable

EXIT_OK = 0
EXIT_FAILED = 3


def rekey_cards_command(settings: Settings, *, batch: int = DEFAULT_BATCH) -> int:
    cipher = settings.card_key_cipher()
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    url, server = resolve_database_url(settings.database_url, settings.data_dir)
    try:
        result = asyncio.run(_run(url, cipher, batch, err))
    except CardKeyUnreadable as exc:
        err.print(
            f"无法解密，已停止 / cannot open a card key, stopped: {exc}. "
            "Keep every old key in KAMENG_OLD_SECRET_KEYS / "
            "KAMENG_OLD_CARD_KEY_ENCRYPTION_KEYS until this command reports 0 remaining.",
            markup=False,
            soft_wrap=True,
        )
        return EXIT_FAILED
    except psycopg.Error as exc:
        err.print(f"数据库错误 / database error: {exc}", markup=False, soft_wrap=True)
        return EXIT_FAILED
    finally:
        del server
    out.print(
        f"重新加密 {result.rekeyed} 条 / re-encrypted {result.rekeyed} card keys under key "
        f"{cipher.key_id.hex()}; 剩余 {result.remaining} / remaining {result.remaining}",
        markup=False,
        soft_wrap=True,
    )
    if result.remaining == 0:
        out.print(
            "all stock is under the current key: "
            "old keys may now be removed from the configuration",
            markup=False,
            soft_wrap=True,
        )
        return EXIT_OK
    return EXIT_FAILED


async def _run(url: str, cipher: CardKeyCipher, batch: int, err: Console) -> RekeyResult:
    def progress(done: int, total: int) -> None:
        err.print(f"rekey-cards: {done}/{total}", markup=False, soft_wrap=True)

    async with await psycopg.AsyncConnection.connect(
        libpq_url(url), autocommit=True, application_name="kameng rekey-cards"
    ) as conn:
        return await rekey_all(conn, cipher, batch=batch, progress=progress)
