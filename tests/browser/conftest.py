"""Debian's chromium driving the live shop (tests/conftest.py: ``live_shop``).

Everything here is synchronous: the sync Playwright API refuses to run inside
an event loop; set-up runs the async factories through ``run_sync``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from kameng.config import PROJECT_ROOT, Settings
from tests.factories import make_stocked_product
from tests.support import run_sync

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
    """Product GAME-10 (¥10.00) with three card keys, imported."""
    return run_sync(make_stocked_product(database_url, settings, 3, key_prefix="GAME10")).keys


SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot of what the phone shows now, var/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
