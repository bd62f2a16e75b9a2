"""Changing the shop's secret without losing a card key: rotate, rekey, remove."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kameng.cardkeys.importer import StockNeedsRekey, import_card_keys
from kameng.cardkeys.rekey import rekey_all, rekey_batch
from kameng.cardkeys.repository import claim_keys
from kameng.cli import app
from kameng.config import Settings, get_settings
from kameng.fulfilment.service import StrategyGoods
from kameng.kit import clock
from kameng.kit.crypto import CardKeyCipher, CardKeyUnreadable, seal_legacy
from kameng.kit.passwords import QueryPasswords
from kameng.orders import repository as orders_repo
from kameng.orders import service as orders
from tests.cardkeys.conftest import Conn
from tests.factories import Sessions, create_product

SECRET_A = "secret-A-" + "a" * 40
SECRET_B = "secret-B-" + "b" * 40


def configured(database_url: str, **values: str) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **values)  # type: ignore[arg-type]


async def all_keys(conn: Conn, cipher: CardKeyCipher) -> list[tuple[str, str]]:
    cur = await conn.execute("SELECT product_id, fingerprint, secret FROM card_keys ORDER BY id")
    return [
        cipher.open(secret, product_id=product_id, fingerprint=fp)
        for product_id, fp, secret in await cur.fetchall()
    ]


async def scalar(conn: Conn, sql: str) -> Any:
    cur = await conn.execute(sql)
    row = await cur.fetchone()
    assert row is not None
    return row[0]


async def sold_order(conn: Conn, product_id: int, wanted: int) -> str:
    async with conn.transaction():
        order = await orders.create_order(
            conn,
            sku="GAME-10",
            quantity=wanted,
            contact=None,
            query_password=None,
            passwords=QueryPasswords(b"k" * 32),
            gateway="epay",
            known_gateways=["epay"],
            ttl=timedelta(minutes=15),
            now=clock.now(),
        )
        got = await claim_keys(
            conn, product_id=product_id, order_id=order.id, wanted=wanted, first_slot=1,
            now=clock.now(),
        )  # fmt: skip
        assert len(got) == wanted
    return order.order_no


async def test_rotate_rekey_and_remove_the_old_key(
    conn: Conn, db: Sessions, database_url: str
) -> None:
    under_a = configured(database_url, secret_key=SECRET_A).card_key_cipher()
    product_id = await create_product(db)
    lines = [f"K{i:03d} P{i:03d}\n" for i in range(7)]
    await import_card_keys(conn, product_sku="GAME-10", lines=lines, cipher=under_a)
    # One key still in the format from before key ids (fixed associated data).
    key_a = configured(database_url, secret_key=SECRET_A).aes_key()
    await conn.execute(
        "INSERT INTO card_keys (product_id, fingerprint, secret, created_at)"
        " VALUES (%s, %s, %s, now())",
        (product_id, under_a.fingerprint("LEGACY"), seal_legacy(key_a, "LEGACY", "PW")),
    )
    order_no = await sold_order(conn, product_id, 3)
    expected = [(f"K{i:03d}", f"P{i:03d}") for i in range(7)] + [("LEGACY", "PW")]
    assert await all_keys(conn, under_a) == expected

    rotated = configured(
        database_url, secret_key=SECRET_B, old_secret_keys=SECRET_A
    ).card_key_cipher()
    assert await all_keys(conn, rotated) == expected  # everything still opens meanwhile
    before = await scalar(conn, "SELECT count(*) FROM card_keys")
    with pytest.raises(StockNeedsRekey):  # duplicates against old-key stock would go unseen
        await import_card_keys(conn, product_sku="GAME-10", lines=["N1 P1\n"], cipher=rotated)
    assert await scalar(conn, "SELECT count(*) FROM card_keys") == before

    # One batch, then an interruption: the next run resumes with what is left.
    last, count = await rekey_batch(conn, rotated, after_id=0, limit=3)
    assert (last, count) == (3, 3)
    seen: list[tuple[int, int]] = []
    result = await rekey_all(conn, rotated, batch=2, progress=lambda d, t: seen.append((d, t)))
    assert (result.rekeyed, result.remaining) == (5, 0)
    assert seen == [(0, 5), (2, 5), (4, 5), (5, 5)]
    assert (await rekey_all(conn, rotated)).rekeyed == 0  # nothing left to do

    only_b = configured(database_url, secret_key=SECRET_B).card_key_cipher()
    assert await all_keys(conn, only_b) == expected
    with pytest.raises(CardKeyUnreadable):
        await all_keys(conn, under_a)
    order = await orders_repo.get_by_number(conn, order_no)
    assert order is not None
    goods = await StrategyGoods(only_b).goods_of(conn, order)
    assert [(g.number, g.password) for g in goods] == expected[:3]
    # The fingerprints moved too: a re-import finds every key already in stock.
    report = await import_card_keys(conn, product_sku="GAME-10", lines=lines, cipher=only_b)
    assert (report.imported, len(report.duplicate_in_stock)) == (0, 7)


async def test_a_ciphertext_copied_to_another_row_does_not_open(
    conn: Conn, db: Sessions, database_url: str, settings: Settings
) -> None:
    cipher = settings.card_key_cipher()
    await create_product(db)
    await import_card_keys(conn, product_sku="GAME-10", lines=["A1 p1\n", "A2 p2\n"], cipher=cipher)
    await conn.execute(
        "UPDATE card_keys SET secret = (SELECT secret FROM card_keys WHERE id = 1) WHERE id = 2"
    )
    cur = await conn.execute("SELECT product_id, fingerprint, secret FROM card_keys ORDER BY id")
    (p1, fp1, s1), (p2, fp2, s2) = await cur.fetchall()
    assert cipher.open(s1, product_id=p1, fingerprint=fp1) == ("A1", "p1")
    with pytest.raises(CardKeyUnreadable):
        cipher.open(s2, product_id=p2, fingerprint=fp2)


async def test_rekey_stops_at_a_key_nobody_can_open_and_changes_nothing(
    conn: Conn, db: Sessions, database_url: str
) -> None:
    under_a = configured(database_url, secret_key=SECRET_A).card_key_cipher()
    await create_product(db)
    await import_card_keys(conn, product_sku="GAME-10", lines=["A1 p1\n"], cipher=under_a)
    before = await scalar(conn, "SELECT secret FROM card_keys")
    without_a = configured(database_url, secret_key=SECRET_B).card_key_cipher()
    with pytest.raises(CardKeyUnreadable):
        await rekey_all(conn, without_a)
    assert await scalar(conn, "SELECT secret FROM card_keys") == before


async def test_the_rekey_command_reports_and_finishes(
    conn: Conn,
    db: Sessions,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    under_a = configured(database_url, secret_key=SECRET_A).card_key_cipher()
    await create_product(db)
    await import_card_keys(
        conn, product_sku="GAME-10", lines=["A1 p1\n", "A2 p2\n"], cipher=under_a
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAMENG_SECRET_KEY", SECRET_B)
    monkeypatch.setenv("KAMENG_OLD_SECRET_KEYS", SECRET_A)
    get_settings.cache_clear()
    try:
        # In a thread: the command runs its own event loop, as from a terminal.
        result = await asyncio.to_thread(CliRunner().invoke, app, ["rekey-cards", "--batch", "1"])
        again = await asyncio.to_thread(CliRunner().invoke, app, ["rekey-cards"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "rekey-cards: 0/2" in result.output and "rekey-cards: 2/2" in result.output
    assert "re-encrypted 2 card keys" in result.output and "remaining 0" in result.output
    assert again.exit_code == 0 and "re-encrypted 0 card keys" in again.output
    only_b = configured(database_url, secret_key=SECRET_B).card_key_cipher()
    assert await all_keys(conn, only_b) == [("A1", "p1"), ("A2", "p2")]
