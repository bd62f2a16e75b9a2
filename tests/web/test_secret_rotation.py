"""After a change of secret, buyers still reach their goods: old browser tokens
and query passwords work while the old secret is kept, and stop once it goes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx

from kameng.config import Settings
from kameng.web.app import create_app
from tests.factories import Sessions, add_keys, create_product, place_order, signed_notify

NEW_SECRET = "the-new-secret-" + "n" * 32

Shop = Callable[[Settings], AbstractAsyncContextManager[httpx.AsyncClient]]


def shop_on(pool: Any) -> Shop:
    @asynccontextmanager
    async def shop(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(
            app=create_app(settings, pool=pool), raise_app_exceptions=False
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as c:
            yield c

    return shop


async def test_old_tokens_and_passwords_work_while_the_old_secret_is_kept(
    db: Sessions, settings: Settings, pool: Any
) -> None:
    shop = shop_on(pool)
    product_id = await create_product(db)
    keys = await add_keys(db, settings, product_id, 1)
    async with shop(settings) as before:
        order = await place_order(before, query_password="pass1234")
        paid = await before.get(
            "/notify/epay", params=signed_notify(settings, order["order_no"], 1000)
        )
        assert paid.text == "success"
    url = f"/api/shop/orders/{order['order_no']}"
    token = {"X-Order-Token": order["token"]}
    rotated = settings.model_copy(
        update={"secret_key": NEW_SECRET, "old_secret_keys": settings.secret_key}
    )
    async with shop(rotated) as during:
        by_token = (await during.get(url, headers=token)).json()
        by_password = (await during.get(url, headers={"X-Query-Password": "pass1234"})).json()
        wrong = await during.get(url, headers={"X-Query-Password": "pass1235"})
    goods = [{"kind": "card_key", "number": n, "password": p} for n, p in keys]
    assert by_token["goods"] == goods and by_password["goods"] == goods
    assert wrong.status_code == 403

    # Old secret dropped (its card keys are gone from the key ring too, so no
    # goods are asked for here): the old token no longer proves ownership.
    only_new = settings.model_copy(update={"secret_key": NEW_SECRET, "old_secret_keys": ""})
    async with shop(only_new) as after:
        stranger = (await after.get(url, headers=token)).json()
        refused = await after.get(url, headers={"X-Query-Password": "pass1234"})
    assert stranger["goods"] is None
    assert refused.status_code == 403
