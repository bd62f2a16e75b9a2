"""The buyer pages: the whole flow in HTML, and no input ever gives a 500."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kameng.config import Settings
from tests.factories import (
    Sessions,
    count,
    csrf_form,
    make_product,
    make_stocked_product,
    signed_notify,
)


class TestPages:
    async def test_buy_shows_number_then_keys(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        keys = (await make_stocked_product(db, settings, 2)).keys
        index = await client.get("/")
        assert index.status_code == 200 and "游戏点卡 10 元" in index.text
        bought = await client.post(
            "/buy", data=await csrf_form(client, {"product": "GAME-10", "quantity": "1"})
        )
        assert bought.status_code == 303
        order_no = bought.headers["location"].split("/")[2].split("?")[0]
        page = await client.get(f"/o/{order_no}")
        assert page.status_code == 200
        assert order_no in page.text and "待支付" in page.text and "去支付" in page.text
        await client.get("/notify/epay", params=signed_notify(settings, order_no, 1000))
        page = await client.get(f"/o/{order_no}")
        assert "已发货" in page.text and keys[0][0] in page.text and keys[0][1] in page.text
        assert "没有快递单号" in page.text
        stranger = httpx.AsyncClient(transport=client._transport, base_url="http://shop.test")
        hidden = await stranger.get(f"/o/{order_no}")
        assert keys[0][0] not in hidden.text and "查询密码" in hidden.text

    async def test_password_reveals_keys_on_another_device(
        self, client: httpx.AsyncClient, db: Sessions, settings: Settings
    ) -> None:
        keys = (await make_stocked_product(db, settings, 1)).keys
        bought = await client.post(
            "/buy",
            data=await csrf_form(
                client, {"product": "GAME-10", "quantity": "1", "query_password": "pass1234"}
            ),
        )
        order_no = bought.headers["location"].split("/")[2].split("?")[0]
        await client.get("/notify/epay", params=signed_notify(settings, order_no, 1000))
        stranger = httpx.AsyncClient(transport=client._transport, base_url="http://shop.test")
        wrong = await stranger.post(
            f"/o/{order_no}", data=await csrf_form(stranger, {"password": "nope1234"})
        )
        assert wrong.status_code == 403 and "查询密码不正确" in wrong.text
        right = await stranger.post(
            f"/o/{order_no}", data=await csrf_form(stranger, {"password": "pass1234"})
        )
        assert right.status_code == 200 and keys[0][1] in right.text

    async def test_bad_form_is_explained_and_creates_nothing(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        await make_product(db)
        for data, phrase in (
            ({"product": "GAME-10", "quantity": "99"}, "购买数量须在 1 到 10 之间"),
            ({"product": "NOPE"}, "商品不存在"),
            ({"product": "GAME-10", "quantity": "-1"}, "输入有误"),
        ):
            response = await client.post("/buy", data=await csrf_form(client, data))
            assert response.status_code in (404, 422)
            assert phrase in response.text
        assert await count(db, "SELECT count(*) FROM orders") == 0

    async def test_query_page_redirects_and_suggests(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        await make_product(db)
        bought = await client.post("/buy", data=await csrf_form(client, {"product": "GAME-10"}))
        order_no = bought.headers["location"].split("/")[2].split("?")[0]
        found = await client.get("/query", params={"q": order_no})
        assert found.status_code == 303 and found.headers["location"] == f"/o/{order_no}"
        typo = order_no[:-1] + str((int(order_no[-1]) + 1) % 10)
        suggested = await client.get("/query", params={"q": typo})
        assert suggested.status_code == 200 and f"/o/{order_no}" in suggested.text
        assert "本浏览器下过的订单" in suggested.text

    async def test_unknown_page_is_a_friendly_404(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        response = await client.get("/nope")
        assert response.status_code == 404 and "页面不存在" in response.text

    async def test_english_on_request(self, client: httpx.AsyncClient, db: Sessions) -> None:
        await make_product(db)
        response = await client.get("/", headers={"accept-language": "en-US,en"})
        assert "Order now" in response.text


paths = st.sampled_from(
    [
        "/o/{}",
        "/o/{}/live",
        "/query?q={}",
        "/api/shop/orders/{}",
        "/api/shop/lookup?q={}",
        "/notify/epay?out_trade_no={}",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=paths, junk=st.text(max_size=40))
async def test_no_input_gives_a_500(client: httpx.AsyncClient, path: str, junk: str) -> None:
    from urllib.parse import quote

    response = await client.get(path.format(quote(junk, safe="")))
    assert response.status_code < 500, (path, junk, response.text[:200])


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_wrong_method_is_405_not_500(
    client: httpx.AsyncClient, db: Sessions, method: str
) -> None:
    response = await client.request(method, "/api/shop/products")
    assert response.status_code == 405


async def test_times_are_shown_in_beijing_time(
    client: httpx.AsyncClient, db: Sessions, clock: object
) -> None:
    await make_product(db)  # the frozen clock says 2026-11-25 12:00 UTC
    bought = await client.post("/buy", data=await csrf_form(client, {"product": "GAME-10"}))
    order_no = bought.headers["location"].split("/")[2].split("?")[0]
    page = await client.get(f"/o/{order_no}")
    assert "2026-11-25 20:00:00" in page.text
    assert "请在 2026-11-25 20:15 北京时间 前完成付款" in page.text
    body = (await client.get(f"/api/shop/orders/{order_no}")).json()
    assert body["timeline"][0]["at"] == "2026-11-25T12:00:00Z"  # the API stays in UTC
