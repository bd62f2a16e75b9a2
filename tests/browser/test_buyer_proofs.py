"""Issue 11's browser proofs not covered by the order and lookup page tests:
copy the keys on a phone, the proof-of-work check after repeated misses, a
stranger's lookup, and screenshots of every main page (var/screenshots/).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kameng.config import Settings
from kameng.kit.i18n import translator
from kameng.web import captcha
from tests.browser.conftest import CHROMIUM, shot
from tests.browser.test_lookup_page import ask
from tests.browser.test_order_page import QUERY_PASSWORD, buy, pay
from tests.factories import make_stocked_product
from tests.support import run_sync

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"chromium is missing ({CHROMIUM})")
CHALLENGE = "**/api/shop/captcha"


def plain(markup: str) -> str:
    """What a catalogue text carrying a link reads as on the page."""
    return re.sub(r"<[^>]+>", "", markup)


def rerender(page: Page, order_no: str) -> None:
    """Replace #live with a fresh fragment, as a pushed or polled update does."""
    page.evaluate("document.getElementById('live').dataset.stale = '1'")
    page.evaluate(
        "n => htmx.ajax('GET', '/o/' + n + '/live', {target: '#live', swap: 'outerHTML'})",
        order_no,
    )
    expect(page.locator("#live[data-stale]")).to_have_count(0)
    expect(page.locator("#live")).to_have_count(1)


def test_copy_the_keys_on_a_phone(
    phone: Page, stocked: list[tuple[str, str]], settings: Settings, live_shop: str
) -> None:
    phone.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_shop)
    order_no = buy(phone, quantity=2)
    pay(live_shop, settings, order_no, 2000)
    live = phone.locator("#live")
    expect(live.locator(".status")).to_contain_text("已发货", timeout=10_000)
    # Created, paid, issued: the keys are shown.
    expect(live.locator("ol.timeline li")).to_have_count(3)
    assert phone.evaluate("navigator.clipboard.readText()") == ""
    copy = live.locator("#copy-keys")
    expect(copy).to_have_text("复制卡密")
    copy.click()
    expect(copy).to_have_text("已复制")
    # The panel re-rendered with the same keys (a pushed or polled fragment):
    # the fresh button still says they were copied.
    rerender(phone, order_no)
    expect(copy).to_have_text("已复制")
    (n1, p1), (n2, p2) = stocked[:2]
    assert phone.evaluate("navigator.clipboard.readText()") == f"{n1} {p1}\n{n2} {p2}"

    copy_number = phone.get_by_role("button", name="复制订单号")
    copy_number.click()
    expect(phone.locator("#copy-order-no")).to_have_text("已复制")  # the tap did something
    assert phone.evaluate("navigator.clipboard.readText()") == order_no
    shot(phone, "order-delivered-copied")
    # The tab remembers a fingerprint of the copied keys, not the keys...
    remembered = phone.evaluate("k => sessionStorage.getItem(k)", f"kameng_copied:{order_no}")
    assert remembered is not None and all(k not in remembered for pair in stocked for k in pair)
    # ...and what was copied were other keys: the fresh button offers to copy these.
    phone.evaluate("k => sessionStorage.setItem(k, 'other goods')", f"kameng_copied:{order_no}")
    rerender(phone, order_no)
    expect(copy).to_have_text("复制卡密")


def test_proof_of_work_after_repeated_misses(
    phone: Page, stranger: Page, stocked: list[tuple[str, str]]
) -> None:
    order_no = buy(phone)
    for _ in range(5):
        ask(stranger, "12345")  # not a number of ours: a miss
        expect(stranger.locator("#lookup-message")).to_be_visible()
    zh = captcha.widget(translator("zh_CN"))["strings"]
    # No challenge reaches the widget at first: it stays on its label and shows its error.
    stranger.route(CHALLENGE, lambda route: route.abort())
    ask(stranger, order_no)
    expect(stranger.locator("#lookup-refused")).to_be_visible()
    assert "/o/" not in stranger.url
    widget = stranger.locator("altcha-widget")
    expect(widget.locator("[data-state=error]")).to_have_count(1)
    expect(widget.locator(".altcha-checkbox-wrap label")).to_have_text(zh["label"])
    expect(widget.locator(".altcha-error")).to_have_text(zh["error"])
    expect(widget.locator(".altcha-footer")).to_have_text(plain(zh["footer"]))
    assert plain(zh["footer"]) == "由 ALTCHA 提供保护"
    shot(stranger, "lookup-captcha-zh")
    stranger.unroute(CHALLENGE)
    # Ticking the box again fetches a challenge and solves it in the page.
    widget.locator(".altcha-checkbox-wrap label").click()
    expect(widget.locator("[data-state=verified]")).to_have_count(1, timeout=30_000)
    expect(widget.locator(".altcha-checkbox-wrap label")).to_have_text(zh["verified"])
    shot(stranger, "lookup-captcha-solved")
    stranger.locator("textarea[name=q]").fill(order_no)
    stranger.get_by_role("button", name="查询").first.click()
    stranger.wait_for_url(re.compile(f"/o/{order_no}$"))
    expect(stranger.locator("#order-no")).to_have_text(order_no)

    # The same on an English page: its own texts, and auto="onload" solves it.
    en = captcha.widget(translator("en"))["strings"]
    stranger.route(CHALLENGE, lambda route: route.abort())
    stranger.goto("/query?lang=en")
    stranger.locator("textarea[name=q]").fill(order_no)
    stranger.get_by_role("button", name="Find").first.click()
    expect(stranger.locator("#lookup-refused")).to_be_visible()
    expect(widget.locator(".altcha-checkbox-wrap label")).to_have_text(en["label"])
    expect(widget.locator(".altcha-error")).to_have_text(en["error"])
    expect(widget.locator(".altcha-footer")).to_have_text("Protected by ALTCHA")
    stranger.unroute(CHALLENGE)
    stranger.reload()  # the form is re-sent: still refused, now with a challenge to solve
    expect(widget.locator("[data-state=verified]")).to_have_count(1, timeout=30_000)
    expect(widget.locator(".altcha-checkbox-wrap label")).to_have_text(en["verified"])
    stranger.get_by_role("button", name="Find").first.click()
    stranger.wait_for_url(re.compile(f"/o/{order_no}$"))
    expect(stranger.locator("#order-no")).to_have_text(order_no)


def test_a_strangers_lookup_shows_nothing_private(
    phone: Page,
    stranger: Page,
    stocked: list[tuple[str, str]],
    settings: Settings,
    live_shop: str,
) -> None:
    order_no = buy(phone)
    pay(live_shop, settings, order_no, 1000)
    number, password = stocked[0]
    ask(stranger, f"Order No.: {order_no}")
    stranger.wait_for_url(re.compile(f"/o/{order_no}$"))
    expect(stranger.locator("#live .status")).to_have_text("已发货")
    # The lookup policy for a full, valid number: status, product and timeline
    # (src/kameng/lookup/service.py); the amount only as the product's price.
    expect(stranger.locator(".card .hint").nth(1)).to_have_text("游戏点卡 10 元 × 1 · ¥10.00")
    expect(stranger.locator("#live ol.timeline li")).to_have_count(3)
    page = stranger.content()
    for private in (number, password, "buyer@example.com", QUERY_PASSWORD):
        assert private not in page, private
    expect(stranger.locator("table.keys")).to_have_count(0)
    expect(stranger.get_by_role("button", name="复制卡密")).to_have_count(0)
    stranger.goto("/my-orders")
    expect(stranger.locator("#my-orders a.order-no")).to_have_count(0)


def test_screenshots_of_the_main_pages(
    phone: Page,
    stranger: Page,
    stocked: list[tuple[str, str]],
    settings: Settings,
    live_shop: str,
    database_url: str,
) -> None:
    run_sync(
        make_stocked_product(
            database_url, settings, 0, sku="EMPTY-20", name="游戏点卡 20 元", price_cents=2000
        )
    )
    phone.goto("/")
    expect(phone.get_by_role("button", name="立即下单").first).to_be_visible()
    shot(phone, "shop")

    waiting = buy(phone, sku="EMPTY-20")
    pay(live_shop, settings, waiting, 2000)
    expect(phone.locator("#live .status")).to_contain_text("等待补货", timeout=10_000)
    shot(phone, "order-paid-awaiting-stock")

    delivered = buy(phone)
    pay(live_shop, settings, delivered, 1000)
    expect(phone.locator("#live table.keys")).to_be_visible(timeout=10_000)
    shot(phone, "order-delivered")

    phone.goto("/my-orders")
    expect(phone.locator("#my-orders a.order-no")).to_have_count(2)
    shot(phone, "my-orders")

    typo = delivered[:6] + str((int(delivered[6]) + 1) % 10) + delivered[7:]
    ask(stranger, typo)
    expect(stranger.locator("a.suggestion")).to_have_text(delivered)
    shot(stranger, "lookup-suggestion")
    ask(stranger, "SF1234567890123")
    expect(stranger.locator("#lookup-message")).to_be_visible()
    shot(stranger, "lookup-courier-number")

    stranger.goto("/query/contact")
    stranger.locator("input[name=contact]").fill("buyer@example.com")
    stranger.locator("input[name=password]").fill(QUERY_PASSWORD)
    stranger.get_by_role("button", name="查询").click()
    expect(stranger.locator("#contact-orders a.order-no")).to_have_text([delivered, waiting])
    shot(stranger, "lookup-contact")
