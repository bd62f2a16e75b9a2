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
    assert "输入有误：quantity：" in response.text
    assert await count(db, "SELECT count(*) FROM orders") == 0
