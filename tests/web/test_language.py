"""The buyer's language: ?lang= sticks (cookie), Accept-Language is the fallback,
zh_CN the default; pages, fragments and JSON all follow it."""

from __future__ import annotations

import httpx

from kameng.kit import order_numbers
from tests.factories import Sessions, create_product


def _stranger(client: httpx.AsyncClient, **headers: str) -> httpx.AsyncClient:
    """A second browser: same app, no cookies."""
    return httpx.AsyncClient(
        transport=client._transport, base_url="http://shop.test", headers=headers
    )


class TestLanguageSticks:
    async def test_lang_query_sets_a_cookie_that_later_pages_follow(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        await create_product(db)
        first = await client.get("/?lang=en")
        assert first.status_code == 200
        assert '<html lang="en">' in first.text and "Order now" in first.text
        cookies = first.headers.get_list("set-cookie")
        assert "lang=en; Max-Age=31536000; Path=/; SameSite=Lax" in cookies

        second = await client.get("/query")  # no ?lang= any more
        assert '<html lang="en">' in second.text
        assert "Order number, Alipay/WeChat trade number, or paste the receipt text" in second.text
        assert "查询" not in second.text
        assert "set-cookie" not in second.headers

        back = await client.get("/query?lang=zh")
        assert back.headers["set-cookie"].startswith("lang=zh_CN;")
        assert '<html lang="zh-CN">' in back.text
        third = await client.get("/")
        assert '<html lang="zh-CN">' in third.text and "立即下单" in third.text

    async def test_order_page_and_its_live_refresh_keep_the_language(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        await create_product(db)
        created = await client.post("/api/shop/orders?lang=en", json={"product": "GAME-10"})
        order_no = created.json()["order_no"]
        page = await client.get(f"/o/{order_no}")
        assert "Awaiting payment" in page.text and "Pay now" in page.text
        live = await client.get(f"/o/{order_no}/live")  # what htmx polls, without ?lang=
        assert "Awaiting payment" in live.text and "待支付" not in live.text
        api = await client.get(f"/api/shop/orders/{order_no}")
        assert api.json()["status_label"] == "Awaiting payment"
        unknown = "123456789012345" + str(order_numbers.damm_digit("123456789012345"))
        missing = await client.get(f"/api/shop/orders/{unknown}")
        assert missing.status_code == 404
        assert missing.json()["message"] == (
            f"No order {unknown}. Please check the order number (16 digits)."
        )

    async def test_language_switch_links_keep_the_page(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        page = await client.get("/query?q=12345")
        assert '<a href="/query?q=12345&amp;lang=en">English</a>' in page.text
        english = await client.get("/query?q=12345&lang=en")
        assert '<a href="/query?q=12345&amp;lang=zh_CN">中文</a>' in english.text
        assert "Order numbers have 16 digits; you entered 5" in english.text


class TestFallbacks:
    async def test_accept_language_by_quality_then_chinese(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        cases = {
            "en-US,en;q=0.9": "en",
            "fr-FR, zh-CN;q=0.8, en;q=0.5": "zh-CN",
            "fr-FR, en;q=0.8, zh;q=0.5": "en",
            "de": "zh-CN",
            "": "zh-CN",
        }
        for header, expected in cases.items():
            async with _stranger(client, **{"accept-language": header}) as browser:
                page = await browser.get("/")
                assert f'<html lang="{expected}">' in page.text, header

    async def test_the_cookie_beats_accept_language_and_bad_values_are_ignored(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        async with _stranger(client, **{"accept-language": "en"}) as browser:
            browser.cookies.set("lang", "zh_CN", domain="shop.test")
            assert '<html lang="zh-CN">' in (await browser.get("/")).text
            ignored = await browser.get("/?lang=klingon")
            assert "set-cookie" not in ignored.headers
            assert '<html lang="zh-CN">' in ignored.text

    async def test_errors_follow_the_cookie(self, client: httpx.AsyncClient, db: Sessions) -> None:
        await client.get("/?lang=en")
        response = await client.post("/api/shop/orders", json={"product": "NOPE"})
        assert response.status_code == 404
        assert response.json() == {
            "error": "product_not_found",
            "message": "No such product, or it is no longer on sale: NOPE",
        }
        page = await client.get("/nope")
        assert page.status_code == 404 and "Page not found" in page.text
