"""The order page in a real browser on a phone: buy, watch the order turn
delivered without reloading, find it again, and keep its keys from strangers."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from kameng.config import PROJECT_ROOT, Settings
from tests.browser.conftest import CHROMIUM
from tests.factories import signed_notify

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"chromium is missing ({CHROMIUM}): `make test` installs it as root "
    "(apt-get install chromium fonts-wqy-microhei)",
)

QUERY_PASSWORD = "phone-1234"
SCREENSHOT = PROJECT_ROOT / "var" / "screenshots" / "order-delivered.png"


def buy(
    page: Page, *, quantity: int = 1, password: str = QUERY_PASSWORD, sku: str = "GAME-10"
) -> str:
    """Order ``sku`` from the home page; returns the order number."""
    page.goto("/")
    card = page.locator(".card").filter(has=page.locator(f"input[name=product][value='{sku}']"))
    card.get_by_label("数量").fill(str(quantity))
    card.locator("input[name=contact]").fill("buyer@example.com")
    card.locator("input[name=query_password]").fill(password)
    card.get_by_role("button", name="立即下单").click()
    page.wait_for_url(re.compile(r"/o/\d{16}\?new=1$"))
    match = re.search(r"/o/(\d{16})\?new=1$", page.url)
    assert match is not None, page.url
    return match.group(1)


def pay(live_shop: str, settings: Settings, order_no: str, amount_cents: int) -> None:
    """The gateway's server-to-server notify, correctly signed, over real HTTP."""
    with httpx.Client(base_url=live_shop, trust_env=False, timeout=10) as gateway:
        answer = gateway.post("/notify/epay", data=signed_notify(settings, order_no, amount_cents))
    assert (answer.status_code, answer.text) == (200, "success")


def test_buy_on_a_phone_shows_number_status_and_pay_link(
    phone: Page, stocked: list[tuple[str, str]], settings: Settings
) -> None:
    order_no = buy(phone, quantity=2)

    expect(phone.locator("#order-no")).to_have_text(order_no)
    expect(phone.locator("#live .status")).to_have_text("待支付")
    expect(phone.get_by_text("游戏点卡 10 元 × 2 · ¥20.00")).to_be_visible()
    pay_link = phone.get_by_role("link", name=re.compile("去支付"))
    expect(pay_link).to_be_visible()
    href = pay_link.get_attribute("href") or ""
    assert href.startswith(f"{settings.epay_url}submit.php?"), href
    assert f"out_trade_no={order_no}" in href and "money=20.00" in href, href


def test_order_page_turns_delivered_without_reloading(
    phone: Page, stocked: list[tuple[str, str]], settings: Settings, live_shop: str
) -> None:
    order_no = buy(phone)
    live = phone.locator("#live")
    expect(live.locator(".status")).to_have_text("待支付")
    expect(live.locator("ol.timeline li")).to_have_count(1)
    # The event stream is up: the fragment now polls only every 30 s, so the
    # delivery below (expected within 10 s) can only arrive by push (SSE).
    expect(live).to_have_attribute("hx-trigger", "every 30s", timeout=10_000)
    expect(live.locator(".action.pay")).to_contain_text("去支付 ¥10.00")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENSHOT.with_name("order-unpaid.png")), full_page=True)
    # Marks this document: a reload or navigation would lose it.
    phone.evaluate("window.__sameDocument = true")

    pay(live_shop, settings, order_no, 1000)

    expect(live.locator(".status")).to_contain_text("已发货", timeout=10_000)
    number, password = stocked[0]
    expect(live.locator("table.keys")).to_contain_text(number, timeout=10_000)
    expect(live.locator("table.keys")).to_contain_text(password, timeout=10_000)
    expect(live.locator("ol.timeline li")).to_have_count(3)
    expect(phone.get_by_role("link", name=re.compile("去支付"))).to_have_count(0)
    assert phone.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert re.search(r"/o/\d{16}\?new=1$", phone.url)

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENSHOT), full_page=True)


def test_browser_remembers_the_order_number(phone: Page, stocked: list[tuple[str, str]]) -> None:
    order_no = buy(phone)

    phone.goto("/query")
    phone.get_by_role("link", name=re.compile("本浏览器下过的订单")).click()
    mine = phone.locator("#my-orders")
    expect(mine.get_by_role("heading")).to_have_text("本浏览器下过的订单")
    expect(mine.get_by_role("link", name=order_no)).to_have_attribute("href", f"/o/{order_no}")
    stored = phone.evaluate("localStorage.getItem('kameng_orders')")
    assert stored is not None and order_no in json.loads(stored)


def test_stranger_needs_the_query_password_to_see_keys(
    phone: Page,
    stranger: Page,
    stocked: list[tuple[str, str]],
    settings: Settings,
    live_shop: str,
) -> None:
    order_no = buy(phone)
    pay(live_shop, settings, order_no, 1000)
    number, password = stocked[0]

    stranger.goto(f"/o/{order_no}")
    expect(stranger.locator("#order-no")).to_have_text(order_no)
    expect(stranger.locator("#live .status")).to_have_text("已发货")
    expect(stranger.locator("table.keys")).to_have_count(0)
    assert number not in stranger.content() and password not in stranger.content()
    form = stranger.locator(f"form[action='/o/{order_no}']")
    expect(form.get_by_label("输入查询密码查看卡密")).to_be_visible()

    form.get_by_label("输入查询密码查看卡密").fill("not-the-password")
    form.get_by_role("button", name="查看卡密").click()
    expect(stranger.locator("p.error")).to_have_text("查询密码不正确")
    assert number not in stranger.content()

    stranger.goto(f"/o/{order_no}")
    form.get_by_label("输入查询密码查看卡密").fill(QUERY_PASSWORD)
    form.get_by_role("button", name="查看卡密").click()
    keys = stranger.locator("table.keys")
    expect(keys).to_contain_text(number)
    expect(keys).to_contain_text(password)
