"""The order page in each state: support is always one link away, and the
explanation does not repeat itself."""

from __future__ import annotations

import httpx

from kameng.config import Settings
from tests.factories import (
    Sessions,
    make_order,
    make_paid_order,
    make_product,
    make_stocked_product,
)


def _support_links(html: str, order_no: str) -> int:
    return html.count(f'href="/o/{order_no}/support"')


class TestSupportLink:
    async def test_delivered_order_links_support_in_both_languages(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        await make_stocked_product(db, settings, 1)
        order = await make_paid_order(db, settings)
        assert order.status == "delivered"
        page = await client.get(f"/o/{order.order_no}")
        assert page.status_code == 200 and "已发货" in page.text
        assert _support_links(page.text, order.order_no) == 1
        assert ">联系客服</a>" in page.text
        english = await client.get(f"/o/{order.order_no}?lang=en")
        assert _support_links(english.text, order.order_no) == 1
        assert ">Contact support</a>" in english.text
        # The live fragment (what the page swaps in) keeps it too.
        live = await client.get(f"/o/{order.order_no}/live")
        assert live.status_code == 200 and _support_links(live.text, order.order_no) == 1

    async def test_unpaid_order_links_support_once(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        await make_product(db)
        order = await make_order(db, settings=settings)
        page = await client.get(f"/o/{order.order_no}")
        assert page.status_code == 200 and "待支付" in page.text
        assert _support_links(page.text, order.order_no) == 1

    async def test_a_state_that_offers_support_itself_is_not_linked_twice(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        await make_product(db)  # no stock: the paid order waits for it
        order = await make_paid_order(db, settings)
        assert order.status == "awaiting_stock"
        page = await client.get(f"/o/{order.order_no}")
        assert _support_links(page.text, order.order_no) == 1


class TestExplanationWords:
    async def test_unpaid_title_and_text_do_not_repeat_the_status(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        await make_product(db)
        order = await make_order(db, settings=settings)
        chinese = (await client.get(f"/o/{order.order_no}")).text
        assert "<strong>尚未支付</strong> 应付金额 ¥10.00。请在 " in chinese
        assert chinese.count("尚未支付") == 1
        english = (await client.get(f"/o/{order.order_no}?lang=en")).text
        assert "<strong>Not paid yet</strong> Amount due: ¥10.00. Pay before " in english
        assert english.count("Not paid yet") == 1
