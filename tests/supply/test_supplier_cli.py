"""``kameng supplier …`` and ``kameng fulfil-manual``, and the supply demo data."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import psycopg
import pytest
from typer.testing import CliRunner

from kameng.cli import app
from kameng.config import Settings, get_settings
from kameng.db.engine import libpq_url
from kameng.demo import DEMO_PRODUCTS, load_demo
from kameng.demo_supply import DEMO_SUPPLY, load_supply_demo
from kameng.models.vocabulary import ProductKind
from tests.factories import make_product

SECRET = "supplier-signing-key-0123456789"


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAMENG_SECRET_KEY", "cli-test-secret-" + "s" * 32)
    monkeypatch.setenv("KAMENG_SUPPLIER_SECRET", SECRET)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_suppliers_are_added_linked_listed_changed_and_disabled(cli_env: str) -> None:
    asyncio.run(make_product(cli_env, sku="PHONE-10", kind=ProductKind.TOPUP))
    code, out = _run(
        "supplier", "add", "SUP1", "--url", "https://api.example.com", "--merchant-id", "10086",
        "--name", "供应商甲", "--priority", "10",
    )  # fmt: skip
    assert code == 0, out
    assert "callback URL http://127.0.0.1:8000/notify/supplier/SUP1" in out
    code, out = _run("supplier", "link", "SUP1", "--product", "PHONE-10", "--as", "m10",
                     "--cost", "9.80")  # fmt: skip
    assert code == 0, out
    code, out = _run("supplier", "set", "SUP1", "--priority", "5", "--disable")
    assert code == 0, out
    code, out = _run("supplier", "list", "--json")
    assert code == 0, out
    [row] = json.loads(out)
    assert row["code"] == "SUP1" and row["name"] == "供应商甲" and row["priority"] == 5
    assert row["enabled"] is False and row["success_rate"] is None
    assert row["products"] == [
        {"sku": "PHONE-10", "supplier_sku": "m10", "cost_cents": 980, "priority": 100}
    ]
    assert SECRET not in out
    with psycopg.connect(libpq_url(cli_env)) as conn:
        sealed = conn.execute("SELECT secret_sealed FROM suppliers").fetchone()
    assert sealed is not None and SECRET.encode() not in bytes(sealed[0])
    code, out = _run("supplier", "set", "SUP1", "--enable")
    assert code == 0
    code, out = _run("supplier", "disable", "SUP1")
    assert code == 0 and "disabled" in out


@pytest.mark.parametrize(
    ("args", "exit_code", "says"),
    [
        (("supplier", "add", "bad code", "--url", "https://x", "--merchant-id", "1"), 1,
         "供应商代码"),
        (("supplier", "add", "S2", "--url", "ftp://x", "--merchant-id", "1"), 1, "http://"),
        (("supplier", "link", "NOPE", "--product", "X", "--as", "x", "--cost", "1"), 1,
         "NOPE"),
        (("supplier", "link", "NOPE", "--product", "X", "--as", "x", "--cost", "1.001"), 2,
         "not an amount"),
        (("fulfil-manual", "1234567890123452", "--text", "x"), 1, "1234567890123452"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_message(
    cli_env: str, args: tuple[str, ...], exit_code: int, says: str
) -> None:
    code, out = _run(*args)
    assert code == exit_code, out
    assert says in out


def test_supply_demo_loads_once_into_the_demo_shop_only(
    database_url: str, settings: Settings
) -> None:
    merchants = {"demo-a": "ka", "demo-b": "kb"}
    url = "http://127.0.0.1:8005/"
    # A shop that is not the demo's is never touched.
    assert asyncio.run(load_supply_demo(database_url, settings, url, merchants)) is False
    assert asyncio.run(load_demo(database_url, settings)) is True
    assert asyncio.run(load_supply_demo(database_url, settings, url, merchants)) is True
    assert asyncio.run(load_supply_demo(database_url, settings, url, merchants)) is False
    with psycopg.connect(libpq_url(database_url)) as conn:
        products = conn.execute("SELECT count(*) FROM products").fetchone()
        links = conn.execute("SELECT count(*) FROM supplier_products").fetchone()
    assert products == (len(DEMO_SUPPLY) + len(DEMO_PRODUCTS),)
    assert links == (2 * (len(DEMO_SUPPLY) - 1),)  # DEMO-MANUAL has no supplier
