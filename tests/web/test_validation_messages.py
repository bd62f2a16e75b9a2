"""Input that pydantic refuses is explained in the buyer's language, field by field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Sessions, count, create_product, csrf_form


@pytest.mark.parametrize(
    ("payload", "zh", "en"),
    [
        (
            {"product": "GAME-10", "quantity": 0},
            "输入有误：quantity：不能小于 1",
            "Invalid input: quantity: at least 1",
        ),
        (
            {"product": "GAME-10", "query_password": "12"},
            "输入有误：query_password：至少 4 个字符",
            "Invalid input: query_password: at least 4 characters",
        ),
        (
            {"product": "GAME-10", "surprise": 1},
            "输入有误：surprise：不支持的字段",
            "Invalid input: surprise: unknown field",
        ),
        (
            {"product": "GAME-10", "contact": "a\x00b"},
            "输入有误：contact：含有不可见的控制字符",
            "Invalid input: contact: contains control characters",
        ),
        ({}, "输入有误：product：必填", "Invalid input: product: required"),
        (
            {"product": "GAME-10", "quantity": "many"},
            "输入有误：quantity：须为整数",
            "Invalid input: quantity: a whole number is needed",
        ),
        (
            [1, 2],
            "输入有误：请求内容须为 JSON 对象",
            "Invalid input: the request body must be a JSON object",
        ),
    ],
)
async def test_api_explains_each_field(
    client: httpx.AsyncClient, db: Sessions, payload: Any, zh: str, en: str
) -> None:
    await create_product(db)
    chinese = await client.post("/api/shop/orders", json=payload)
    english = await client.post("/api/shop/orders?lang=en", json=payload)
    assert chinese.status_code == english.status_code == 422
    assert chinese.json() == {"error": "invalid_input", "message": zh}
    assert english.json() == {"error": "invalid_input", "message": en}
    assert await count(db, "SELECT count(*) FROM orders") == 0


async def test_broken_json_is_explained(client: httpx.AsyncClient, db: Sessions) -> None:
    response = await client.post(
        "/api/shop/orders", content=b"{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid_input",
        "message": "输入有误：请求内容不是有效的 JSON",
    }


@pytest.mark.parametrize("quantity", ["²", "1.5", "١٠٠٠٠", "0x10"])
async def test_buy_form_with_an_odd_quantity_is_a_clear_422(
    client: httpx.AsyncClient, db: Sessions, quantity: str
) -> None:
    await create_product(db)
    response = await client.post(
        "/buy", data=await csrf_form(client, {"product": "GAME-10", "quantity": quantity})
    )
    assert response.status_code == 422
    assert "输入有误：数量：" in response.text
    assert await count(db, "SELECT count(*) FROM orders") == 0


@pytest.mark.parametrize(
    ("fields", "zh", "en"),
    [
        ({"quantity": "0"}, "输入有误：数量：不能小于 1", "Invalid input: Quantity: at least 1"),
        (
            {"query_password": "12"},
            "输入有误：查询密码：至少 4 个字符",
            "Invalid input: Query password: at least 4 characters",
        ),
        (
            {"contact": "x" * 121},
            "输入有误：联系方式：最多 120 个字符",
            "Invalid input: Contact: at most 120 characters",
        ),
    ],
)
async def test_buy_form_names_its_fields_as_the_form_shows_them(
    client: httpx.AsyncClient, db: Sessions, fields: dict[str, str], zh: str, en: str
) -> None:
    """The API's field names (query_password) mean nothing to a buyer on the page."""
    await create_product(db)
    chinese = await client.post(
        "/buy", data=await csrf_form(client, {"product": "GAME-10", **fields})
    )
    english = await client.post(
        "/buy?lang=en", data=await csrf_form(client, {"product": "GAME-10", **fields})
    )
    assert chinese.status_code == english.status_code == 422
    assert f'<p class="error" role="alert">{zh}</p>' in chinese.text
    assert f'<p class="error" role="alert">{en}</p>' in english.text
    assert "query_password：" not in chinese.text and "query_password:" not in english.text
    assert await count(db, "SELECT count(*) FROM orders") == 0
