"""A live shop (uvicorn in a thread, on its own pool) and Debian's chromium.

Everything here is synchronous: the sync Playwright API refuses to run inside
an event loop, and the tests need none (setup is plain psycopg).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from kameng.config import Settings
from kameng.db.engine import libpq_url
from kameng.kit.crypto import CardKeyCipher
from kameng.web.app import create_app
from tests.conftest import TABLES

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": f"http://127.0.0.1:{_free_port()}"})


@pytest.fixture(scope="module")
def live_shop(live_settings: Settings) -> Iterator[str]:
    """The shop over a real socket; its lifespan opens its own pool."""
    base = live_settings.public_url
    port = int(base.rsplit(":", 1)[1])
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(live_settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "shop did not start"
        time.sleep(0.05)
    yield base
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


def _new_context(browser: Browser, base_url: str) -> BrowserContext:
    context = browser.new_context(base_url=base_url, **PHONE)
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def phone(browser: Browser, live_shop: str) -> Iterator[Page]:
    """The buyer's phone: a fresh browser with no cookies or storage."""
    context = _new_context(browser, live_shop)
    yield context.new_page()
    context.close()


@pytest.fixture
def stranger(browser: Browser, live_shop: str) -> Iterator[Page]:
    """Somebody else's phone: its own context, none of the buyer's cookies."""
    context = _new_context(browser, live_shop)
    yield context.new_page()
    context.close()


@pytest.fixture
def stocked(database_url: str, settings: Settings) -> list[tuple[str, str]]:
    """Empty tables, then product GAME-10 (¥10.00) with three card keys."""
    cipher = CardKeyCipher(settings.aes_key())
    keys = [(f"GAME10-{i:04d}-NUMBER", f"GAME10-PW-{i:04d}") for i in range(3)]
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        with conn.transaction():
            product_id = conn.execute(
                "INSERT INTO products (sku, name, kind, price_cents, max_quantity, "
                "description, active, created_at) VALUES ('GAME-10', '游戏点卡 10 元', "
                "'card_key', 1000, 10, '', true, now()) RETURNING id"
            ).fetchone()[0]
            for number, password in keys:
                conn.execute(
                    "INSERT INTO card_keys (product_id, fingerprint, secret, created_at) "
                    "VALUES (%s, %s, %s, now())",
                    (product_id, cipher.fingerprint(number), cipher.seal(number, password)),
                )
    return keys
