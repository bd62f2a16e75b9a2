"""Plain-function factories and HTTP helpers shared by the tests."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kameng.config import Settings
from kameng.kit import clock
from kameng.kit.crypto import CardKeyCipher
from kameng.kit.money import format_yuan
from kameng.payments.gateways import epay_sign

Sessions = async_sessionmaker[AsyncSession]


async def create_product(
    sessions: Sessions,
    *,
    sku: str = "GAME-10",
    price_cents: int = 1000,
    name: str = "游戏点卡 10 元",
    max_quantity: int = 10,
) -> int:
    async with sessions() as s, s.begin():
        result = await s.execute(
            text(
                "INSERT INTO products (sku, name, kind, price_cents, max_quantity, description, "
                "active, created_at) VALUES (:sku, :name, 'card_key', :p, :m, '', true, :now) "
                "RETURNING id"
            ),
            {"sku": sku, "name": name, "p": price_cents, "m": max_quantity, "now": clock.now()},
        )
        return int(result.scalar_one())


async def add_keys(
    sessions: Sessions, settings: Settings, product_id: int, count: int, *, prefix: str = "CARD"
) -> list[tuple[str, str]]:
    cipher = CardKeyCipher(settings.aes_key())
    keys = [(f"{prefix}{product_id}-{i:06d}", f"PW{i:06d}") for i in range(count)]
    if not keys:
        return keys
    async with sessions() as s, s.begin():
        await s.execute(
            text(
                "INSERT INTO card_keys (product_id, fingerprint, secret, created_at) "
                "VALUES (:p, :f, :s, :now)"
            ),
            [
                {
                    "p": product_id,
                    "f": cipher.fingerprint(n),
                    "s": cipher.seal(n, pw),
                    "now": clock.now(),
                }
                for n, pw in keys
            ],
        )
    return keys


def signed_notify(
    settings: Settings,
    order_no: str,
    amount_cents: int,
    *,
    trade_no: str | None = None,
    **overrides: str,
) -> dict[str, str]:
    """A notify exactly as epay V1 sends it (PHP-style money, MD5 over raw values)."""
    money = format_yuan(amount_cents).rstrip("0").rstrip(".")
    params = {
        "pid": settings.epay_pid,
        "trade_no": trade_no or f"2026{order_no}",
        "out_trade_no": order_no,
        "type": "alipay",
        "name": "游戏点卡 10 元",
        "money": money,
        "trade_status": "TRADE_SUCCESS",
    }
    params.update(overrides)
    params["sign"] = epay_sign.sign(params, settings.epay_key)
    params["sign_type"] = "MD5"
    return params


async def place_order(
    client: httpx.AsyncClient, sku: str = "GAME-10", quantity: int = 1, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/shop/orders", json={"product": sku, "quantity": quantity, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def count(sessions: Sessions, sql: str, **params: Any) -> int:
    async with sessions() as s:
        return int((await s.execute(text(sql), params)).scalar_one())
