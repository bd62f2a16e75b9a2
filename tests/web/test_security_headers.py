"""Security headers on every answer; nothing dynamic is cacheable; Secure cookie on https."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import Sessions, create_product, place_order


@pytest.mark.parametrize(
    "path", ["/", "/query?q=1", "/api/shop/products", "/api/shop/lookup?q=x", "/nope"]
)
async def test_every_answer_carries_the_headers(
    client: httpx.AsyncClient, db: Sessions, path: str
) -> None:
    await create_product(db)
    response = await client.get(path)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


async def test_order_answers_with_goods_are_not_cached(
    client: httpx.AsyncClient, db: Sessions
) -> None:
    await create_product(db)
    order = await place_order(client)
    for path in (f"/o/{order['order_no']}", f"/api/shop/orders/{order['order_no']}"):
        assert (await client.get(path)).headers["cache-control"] == "no-store"


async def test_static_files_may_be_cached(client: httpx.AsyncClient, db: Sessions) -> None:
    response = await client.get("/static/js/order.js")
    assert response.status_code == 200
    assert response.headers.get("cache-control") != "no-store"


async def test_no_inline_script_in_pages(client: httpx.AsyncClient, db: Sessions) -> None:
    await create_product(db)
    order = await place_order(client)
    for path in ("/", "/query", f"/o/{order['order_no']}"):
        html = (await client.get(path)).text
        assert "<script>" not in html and "onclick=" not in html


async def test_order_cookie_is_secure_over_https(client: httpx.AsyncClient, db: Sessions) -> None:
    await create_product(db)
    plain = await client.post("/api/shop/orders", json={"product": "GAME-10"})
    assert "secure" not in plain.headers["set-cookie"].lower()
    over_tls = httpx.AsyncClient(transport=client._transport, base_url="https://shop.test")
    secure = await over_tls.post("/api/shop/orders", json={"product": "GAME-10"})
    assert "; secure" in secure.headers["set-cookie"].lower()
