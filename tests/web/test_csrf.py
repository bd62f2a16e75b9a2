"""Every form carries a CSRF token; a POST without the right one changes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import Sessions, count, create_product, csrf_form, place_order


@pytest.mark.parametrize("token", [None, "", "0" * 40, "forged-token"])
async def test_buy_without_the_right_token_is_refused_and_creates_nothing(
    client: httpx.AsyncClient, db: Sessions, token: str | None
) -> None:
    await create_product(db)
    await client.get("/")  # the browser has its CSRF cookie
    fields = {"product": "GAME-10", "quantity": "1"}
    if token is not None:
        fields["csrf"] = token
    response = await client.post("/buy", data=fields)
    assert response.status_code == 403
    assert "表单已过期" in response.text
    assert await count(db, "SELECT count(*) FROM orders") == 0


async def test_another_browsers_token_does_not_work(
    client: httpx.AsyncClient, db: Sessions
) -> None:
    await create_product(db)
    other = httpx.AsyncClient(transport=client._transport, base_url="http://shop.test")
    theirs = await csrf_form(other, {"product": "GAME-10"})
    await client.get("/")
    assert (await client.post("/buy", data=theirs)).status_code == 403
    assert (await other.post("/buy", data=theirs)).status_code == 303
    assert await count(db, "SELECT count(*) FROM orders") == 1


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/query", {"q": "2026112512030412345", "password": "x"}),
        ("/query/contact", {"contact": "a@b.c", "password": "x"}),
    ],
)
async def test_lookup_forms_need_the_token(
    client: httpx.AsyncClient, db: Sessions, path: str, fields: dict[str, str]
) -> None:
    await client.get("/")
    assert (await client.post(path, data=fields)).status_code == 403
    assert (await client.post(path, data=await csrf_form(client, fields))).status_code == 200


async def test_password_form_needs_the_token(client: httpx.AsyncClient, db: Sessions) -> None:
    await create_product(db)
    order = await place_order(client, query_password="right-one")
    stranger = httpx.AsyncClient(transport=client._transport, base_url="http://shop.test")
    await stranger.get("/")
    refused = await stranger.post(f"/o/{order['order_no']}", data={"password": "right-one"})
    assert refused.status_code == 403


async def test_every_form_on_the_pages_carries_a_token(
    client: httpx.AsyncClient, db: Sessions
) -> None:
    await create_product(db)
    stranger = httpx.AsyncClient(transport=client._transport, base_url="http://shop.test")
    for path in ("/", "/query/contact"):
        html = (await stranger.get(path)).text
        forms = html.count('method="post"')
        assert forms >= 1 and html.count('name="csrf"') == forms, path
