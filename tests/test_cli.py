"""The ``kameng`` command line and the demo data it loads.

``kameng run`` is long-running and is checked by hand (start, curl, Ctrl-C,
nothing left in ``ps``); these tests cover the pieces it is made of.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from kameng.cli import app
from kameng.config import Settings, get_settings
from kameng.demo import DEMO_PRODUCTS, load_demo
from tests.factories import count, make_product

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    """CLI commands read get_settings() (cached): point it at the test database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAMENG_SECRET_KEY", "cli-test-secret-" + "s" * 32)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_demo_data_loads_once(db: Sessions, database_url: str, settings: Settings) -> None:
    assert await load_demo(database_url, settings) is True
    assert await load_demo(database_url, settings) is False

    stock = {
        sku: await count(
            db,
            "SELECT count(*) FROM card_keys k JOIN products p ON p.id = k.product_id "
            "WHERE p.sku = :sku AND k.status = 'available'",
            sku=sku,
        )
        for sku in ("DEMO-CARD-10", "DEMO-CARD-50", "DEMO-EMPTY")
    }
    assert stock == {"DEMO-CARD-10": 100, "DEMO-CARD-50": 20, "DEMO-EMPTY": 0}
    assert await count(db, "SELECT count(*) FROM products") == 3
    assert await count(db, "SELECT count(*) FROM card_keys") == 120


async def test_demo_keys_are_sealed_with_the_shop_key(
    db: Sessions, database_url: str, settings: Settings
) -> None:
    await load_demo(database_url, settings)
    cipher = settings.card_key_cipher()
    async with db() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT k.fingerprint, k.secret, k.product_id FROM card_keys k "
                    "JOIN products p ON p.id = k.product_id "
                    "WHERE p.sku = 'DEMO-CARD-10' ORDER BY k.pool_seq"
                )
            )
        ).all()
    opened = [cipher.open(secret, product_id=p, fingerprint=fp) for fp, secret, p in rows]
    assert [number for number, _ in opened][:2] == ["DEMO10-0001", "DEMO10-0002"]
    assert opened[-1][0] == "DEMO10-0100"
    assert all(
        bytes(fp) == cipher.fingerprint(number)
        for (fp, _, _), (number, _) in zip(rows, opened, strict=True)
    )
    # Random passwords, not a guessable pattern.
    assert len({password for _, password in opened}) == 100


async def test_demo_data_leaves_a_shop_with_products_alone(
    db: Sessions, database_url: str, settings: Settings
) -> None:
    await make_product(db, sku="REAL-1")
    assert await load_demo(database_url, settings) is False
    assert await count(db, "SELECT count(*) FROM products") == 1


def test_demo_products_match_the_brief() -> None:
    assert [(p.sku, p.price_cents, p.keys) for p in DEMO_PRODUCTS] == [
        ("DEMO-CARD-10", 1000, 100),
        ("DEMO-CARD-50", 5000, 20),
        ("DEMO-EMPTY", 2000, 0),
    ]


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("run", "web", "worker", "sandbox", "migrate", "demo-data", "import-cards"):
        assert command in result.output


def test_run_help_shows_its_options() -> None:
    result = CliRunner().invoke(app, ["run", "--help"])
    assert result.exit_code == 0, result.output
    assert "--port" in result.output
    assert "--sandbox-port" in result.output


def test_migrate_on_a_migrated_database_is_a_no_op(fresh_settings: None) -> None:
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_import_cards_passes_the_exit_code_through(fresh_settings: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["import-cards", "--product", "X", str(tmp_path / "missing.txt")]
    )
    assert result.exit_code == 2, result.output  # unreadable file


def test_web_processes_share_the_connection_budget() -> None:
    from kameng.cli import pool_share

    assert [pool_share(20, n) for n in (1, 2, 3, 16)] == [20, 10, 6, 2]
