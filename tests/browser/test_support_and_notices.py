"""Announcements and support tickets in a real browser on a phone: a notice shows
on the order it touches and not on another; the order page's "contact support"
opens a prefilled form; the buyer writes again on the ticket page; the lookup
box finds the ticket number (the order masked for a stranger, in full for the
browser that placed it)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from kameng.config import PROJECT_ROOT, Settings
from kameng.kit import clock
from kameng.models.vocabulary import NoticeScope
from kameng.notices import service as notices
from tests.browser.conftest import CHROMIUM
from tests.browser.test_order_page import pay
from tests.factories import make_order, make_product, transaction
from tests.support import run_sync

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"chromium is missing ({CHROMIUM}): `make test` installs it as root "
    "(apt-get install chromium fonts-wqy-microhei)",
)

SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
NOTICE_ZH = "五十元卡正在补货，预计今晚 20:00 前到货"


async def _publish(url: str) -> None:
    now = clock.now()
    async with transaction(url) as conn:
        await notices.publish(
            conn,
            text_zh=NOTICE_ZH,
            text_en="GAME-50 is being restocked; expected by 20:00 tonight",
            scope=NoticeScope.PRODUCT,
            target="GAME-50",
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(hours=2),
            now=now,
        )


def _buy(page: Page, sku: str) -> str:
    page.goto("/")
    card = page.locator(".card").filter(has=page.locator(f"input[name=product][value='{sku}']"))
    card.locator("input[name=contact]").fill("buyer@example.com")
    card.get_by_role("button", name="立即下单").click()
    page.wait_for_url(re.compile(r"/o/\d{16}\?new=1$"))
    match = re.search(r"/o/(\d{16})\?new=1$", page.url)
    assert match is not None, page.url
    return match.group(1)


def test_notice_on_the_touched_order_and_a_ticket_the_lookup_box_finds(
    phone: Page,
    stranger: Page,
    stocked: list[tuple[str, str]],
    database_url: str,
    live_settings: Settings,
    live_shop: str,
) -> None:
    run_sync(make_product(database_url, sku="GAME-50", name="游戏点卡 50 元", price_cents=5000))
    run_sync(_publish(database_url))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    phone.goto("/")
    expect(phone.locator("#notices .notice")).to_contain_text(NOTICE_ZH)
    phone.screenshot(path=str(SCREENSHOTS / "storefront-notice.png"), full_page=True)

    # The touched order: GAME-50, paid, waiting for stock.
    order_no = _buy(phone, "GAME-50")
    pay(live_shop, live_settings, order_no, 5000)
    live = phone.locator("#live")
    expect(live.locator(".status")).to_have_text("已支付 · 等待补货", timeout=15_000)
    expect(live.locator(".notice")).to_contain_text(NOTICE_ZH)
    phone.screenshot(path=str(SCREENSHOTS / "order-notice.png"), full_page=True)

    # An order of another product: no notice.
    other = run_sync(make_order(database_url))
    stranger.goto(f"/o/{other.order_no}")
    expect(stranger.locator("#live .status")).to_have_text("待支付")
    expect(stranger.locator(".notice")).to_have_count(0)

    # Contact support from the order page: the form is filled in.
    phone.goto(f"/o/{order_no}")
    phone.locator("#live .action.contact_support a").click()
    phone.wait_for_url(f"**/o/{order_no}/support")
    facts = phone.locator("#support-facts")
    expect(facts).to_contain_text(order_no)
    expect(facts).to_contain_text("游戏点卡 50 元 · 卡密")
    expect(phone.locator("#support-cause")).to_contain_text("缺货")
    phone.locator("textarea[name=message]").fill("付款后一直没有卡密")
    phone.locator("input[name=contact]").fill("qq 10001")
    # The message box lines up with the contact box, not past the card's edge.
    box = phone.locator("textarea[name=message]").bounding_box()
    field = phone.locator("input[name=contact]").bounding_box()
    assert box is not None and field is not None
    assert (box["x"], box["width"]) == (field["x"], field["width"])
    phone.screenshot(path=str(SCREENSHOTS / "support-form.png"), full_page=True)
    phone.get_by_role("button", name="提交给客服").click()
    phone.wait_for_url(re.compile(r"/t/T\d{13}\?new=1$"))
    ticket_no = phone.locator("#ticket-no").inner_text()
    assert re.fullmatch(r"T\d{13}", ticket_no), ticket_no
    expect(phone.locator("#ticket-status")).to_have_text("等待客服处理")
    expect(phone.locator("#ticket-order")).to_have_text(order_no)  # this browser placed it
    # The buyer writes again from the ticket page (two lines, as a phone sends them).
    phone.locator("#follow-up textarea[name=message]").fill("订单号已核对\n付款截图已发到邮箱")
    phone.get_by_role("button", name="发送", exact=True).click()
    phone.wait_for_url(re.compile(r"/t/T\d{13}\?added=1#ticket-messages$"))
    expect(phone.locator("#follow-up-added")).to_have_text("留言已补充到工单，客服会在这里回复。")
    expect(phone.locator("#ticket-messages li")).to_have_count(2)
    expect(phone.locator("#ticket-messages li").last).to_contain_text("付款截图已发到邮箱")
    expect(phone.locator("#ticket-status")).to_have_text("等待客服处理")
    phone.screenshot(path=str(SCREENSHOTS / "ticket.png"), full_page=True)

    # The lookup box finds the ticket; a stranger sees the order masked only.
    stranger.goto("/query")
    stranger.locator("textarea[name=q]").fill(f"工单号：{ticket_no.lower()}")
    stranger.get_by_role("button", name="查询").first.click()
    expect(stranger.locator("#lookup-message")).to_have_text(f"客服工单 {ticket_no}：等待客服处理")
    expect(stranger.locator("#ticket-link")).to_have_text(ticket_no)
    masked = order_no[:4] + "********" + order_no[-4:]
    expect(stranger.locator("#masked-order-no")).to_have_text(masked)
    assert order_no not in stranger.content()
    stranger.screenshot(path=str(SCREENSHOTS / "lookup-ticket.png"), full_page=True)
    stranger.locator("#ticket-link").click()
    expect(stranger.locator("#ticket-no")).to_have_text(ticket_no)
    expect(stranger.locator("#masked-order-no")).to_have_text(masked)

    # The browser that placed the order gets it in full from the same box.
    phone.goto("/query")
    phone.locator("textarea[name=q]").fill(ticket_no)
    phone.get_by_role("button", name="查询").first.click()
    expect(phone.locator("#ticket-order")).to_have_text(order_no)
