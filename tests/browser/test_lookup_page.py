"""The lookup box in a real browser: pasted and mistyped numbers, a stranger,
the trade number and contact + password."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from kameng.config import Settings
from tests.browser.conftest import CHROMIUM
from tests.browser.test_order_page import QUERY_PASSWORD, buy
from tests.factories import signed_notify

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"chromium is missing ({CHROMIUM})")


def ask(page: Page, text: str) -> None:
    page.goto("/query")
    page.locator("textarea[name=q]").fill(text)
    page.get_by_role("button", name="查询").first.click()


def test_pasted_and_mistyped_numbers_find_the_order(
    phone: Page, stranger: Page, stocked: list[tuple[str, str]]
) -> None:
    n = buy(phone)
    ask(stranger, f"【卡盟】您的订单\n订单号：{n[:4]} {n[4:8]} {n[8:12]} {n[12:]}\n金额：10.00 元")
    stranger.wait_for_url(re.compile(f"/o/{n}$"))
    typo = n[:6] + str((int(n[6]) + 1) % 10) + n[7:]
    ask(stranger, typo.replace("0", "O"))
    suggestion = stranger.locator("a.suggestion")
    expect(suggestion).to_have_text(n)
    # The stranger sees the candidate number only: nothing else about that order.
    assert "GAME" not in stranger.content() and "10.00" not in stranger.content()


def test_trade_number_then_contact_and_password(
    phone: Page,
    stranger: Page,
    stocked: list[tuple[str, str]],
    settings: Settings,
    live_shop: str,
) -> None:
    n = buy(phone)
    trade = "2026112512030412345"  # epay's shape: payment time + 5 digits
    with httpx.Client(base_url=live_shop, trust_env=False, timeout=10) as gateway:
        paid = gateway.post("/notify/epay", data=signed_notify(settings, n, 1000, trade_no=trade))
    assert paid.text == "success"
    ask(stranger, trade)
    expect(stranger.locator("#masked-order-no")).to_have_text(n[:4] + "********" + n[-4:])
    assert n not in stranger.content()
    form = stranger.locator("#trade-proof")
    form.locator("input[name=password]").fill(QUERY_PASSWORD)
    form.get_by_role("button").click()
    stranger.wait_for_url(re.compile(f"/o/{n}$"))
    # The password just given shows the keys: not asked for a second time.
    expect(stranger.locator("table.keys td").first).to_have_text(stocked[0][0])
    assert stranger.locator("input[name=password]").count() == 0

    ask(stranger, trade)  # the contact opens the order, but the keys need the password
    form = stranger.locator("#trade-proof")
    form.locator("input[name=contact]").fill("buyer@example.com")
    form.get_by_role("button").click()
    stranger.wait_for_url(re.compile(f"/o/{n}$"))
    expect(stranger.locator("input[name=password]")).to_have_count(1)
    assert stranger.locator("table.keys").count() == 0

    stranger.goto("/query/contact")
    stranger.locator("input[name=contact]").fill("buyer@example.com")
    stranger.locator("input[name=password]").fill(QUERY_PASSWORD)
    stranger.get_by_role("button", name="查询").click()
    expect(stranger.locator("#contact-orders a.order-no")).to_have_text([n])
