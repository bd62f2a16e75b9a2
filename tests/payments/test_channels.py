"""Payment channels in the database: fail closed, secrets sealed, buyers choose
among the enabled ones, notifies only on the order's own channel route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import text

from kameng.config import Settings
from kameng.db.connection import Conn, transaction
from kameng.kit import clock
from kameng.models.vocabulary import ChannelKind
from kameng.payments.channels import service
from kameng.payments.channels.errors import (
    ChannelIncomplete,
    ChannelSettingUnknown,
    ChannelUrlInsecure,
)
from kameng.payments.channels.service import ChannelDraft
from kameng.payments.gateways import epay_sign
from tests.factories import Sessions, count, make_stocked_product, signed_notify

EPAY_URL = "http://127.0.0.1:9/"


def epay(name: str, key: str = "channel-key-1", **kw: Any) -> ChannelDraft:
    values = {"url": EPAY_URL, "pid": "1001", "key": key}
    return ChannelDraft(name=name, kind=ChannelKind.EPAY_V1, values=values, **kw)


async def add(pool: AsyncConnectionPool[Conn], settings: Settings, draft: ChannelDraft) -> None:
    async with transaction(pool) as conn:
        await service.add(conn, draft, cipher=settings.card_key_cipher(), now=clock.now())


async def change(pool: AsyncConnectionPool[Conn], settings: Settings, name: str, **kw: Any) -> None:
    async with transaction(pool) as conn:
        await service.change(conn, name, cipher=settings.card_key_cipher(), now=clock.now(), **kw)


def sign(params: dict[str, str], key: str) -> dict[str, str]:
    params = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
    params["sign"] = epay_sign.sign(params, key)
    params["sign_type"] = "MD5"
    return params


# -- fail closed ------------------------------------------------------------------


async def test_a_channel_is_not_enabled_while_a_secret_is_empty(
    pool: AsyncConnectionPool[Conn], settings: Settings, db: Sessions
) -> None:
    incomplete = ChannelDraft(
        name="shop-epay", kind=ChannelKind.EPAY_V1, values={"url": EPAY_URL, "pid": "1001"}
    )
    with pytest.raises(ChannelIncomplete) as refused:
        await add(pool, settings, incomplete)
    assert refused.value.params == {"name": "shop-epay", "missing": "key"}
    assert await count(db, "SELECT count(*) FROM payment_channels") == 0  # nothing written
    off = ChannelDraft(
        name="shop-epay", kind=incomplete.kind, values=incomplete.values, enabled=False
    )
    await add(pool, settings, off)
    with pytest.raises(ChannelIncomplete):
        await change(pool, settings, "shop-epay", enabled=True)
    await change(pool, settings, "shop-epay", values={"key": "k-1"})
    await change(pool, settings, "shop-epay", enabled=True)
    # An enabled channel cannot lose its secret either.
    with pytest.raises(ChannelIncomplete):
        await change(pool, settings, "shop-epay", values={"key": ""})
    async with db() as s:
        row = (await s.execute(text("SELECT enabled FROM payment_channels"))).one()
    assert row == (True,)


async def test_unknown_settings_and_plain_http_urls_are_refused(
    pool: AsyncConnectionPool[Conn], settings: Settings, db: Sessions
) -> None:
    with pytest.raises(ChannelSettingUnknown):
        await add(pool, settings, ChannelDraft("e", ChannelKind.EPAY_V1, {"md5_key": "x"}))
    with pytest.raises(ChannelUrlInsecure):
        await add(
            pool,
            settings,
            ChannelDraft(
                "e", ChannelKind.EPAY_V1, {"url": "http://pay.example.com/", "pid": "1", "key": "k"}
            ),
        )
    assert await count(db, "SELECT count(*) FROM payment_channels") == 0


async def test_secrets_are_sealed_at_rest(
    pool: AsyncConnectionPool[Conn], settings: Settings, db: Sessions
) -> None:
    await add(pool, settings, epay("sealed", key="very-secret-merchant-key"))
    async with db() as s:
        plain, sealed = (
            await s.execute(text("SELECT settings::text, secrets_sealed FROM payment_channels"))
        ).one()
    assert "very-secret" not in plain
    assert b"very-secret" not in bytes(sealed)
    async with transaction(pool) as conn:
        (summary,) = await service.summaries(conn, cipher=settings.card_key_cipher())
    assert summary.settings == {"url": EPAY_URL, "pid": "1001"}
    assert summary.secrets_set == ["key"]
    assert summary.missing == []


# -- buyers -------------------------------------------------------------------------


@pytest.fixture
async def two_channels(pool: AsyncConnectionPool[Conn], settings: Settings, db: Sessions) -> None:
    await make_stocked_product(db, settings, 5, price_cents=1000)
    await add(
        pool,
        settings,
        epay("epay-a", key="key-a", label_zh="易支付甲", label_en="Epay A", sort_order=2),
    )
    await add(
        pool,
        settings,
        epay("epay-b", key="key-b", label_zh="易支付乙", label_en="Epay B", sort_order=1),
    )


async def test_the_api_lists_enabled_channels_in_the_buyers_language(
    client: httpx.AsyncClient,
    pool: AsyncConnectionPool[Conn],
    settings: Settings,
    two_channels: None,
) -> None:
    zh = await client.get("/api/shop/payment-channels")
    assert zh.status_code == 200
    assert zh.json() == [
        {"name": "epay-b", "kind": "epay_v1", "label": "易支付乙"},
        {"name": "epay-a", "kind": "epay_v1", "label": "易支付甲"},
    ]
    await change(pool, settings, "epay-b", enabled=False)
    en = await client.get("/api/shop/payment-channels?lang=en")
    assert en.json() == [{"name": "epay-a", "kind": "epay_v1", "label": "Epay A"}]
    page = await client.get("/")
    assert 'name="channel" value="epay-a"' in page.text
    assert 'value="epay-b"' not in page.text


async def test_an_order_is_created_on_an_enabled_channel_only(
    client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn], settings: Settings,
    db: Sessions, two_channels: None,
) -> None:  # fmt: skip
    missing = await client.post("/api/shop/orders?lang=en", json={"product": "GAME-10"})
    assert missing.status_code == 422
    assert missing.json()["error"] == "channel_required"
    assert missing.json()["message"] == "channel: choose how to pay, one of: epay-b, epay-a"
    await change(pool, settings, "epay-b", enabled=False)
    for name in ("epay-b", "nope"):
        refused = await client.post(
            "/api/shop/orders?lang=en", json={"product": "GAME-10", "channel": name}
        )
        assert refused.status_code == 422
        assert refused.json() == {
            "error": "channel_unknown",
            "message": f"channel: no payment channel {name} can take payments; "
            "choose one of: epay-a",
        }
    assert await count(db, "SELECT count(*) FROM orders") == 0
    # One channel left: it is the default.
    created = await client.post("/api/shop/orders", json={"product": "GAME-10"})
    assert created.status_code == 201
    assert "%2Fnotify%2Fepay-a&" in created.json()["pay_url"]
    async with db() as s:
        assert (await s.execute(text("SELECT gateway FROM orders"))).scalar_one() == "epay-a"


async def test_with_no_channel_enabled_the_shop_says_so(
    client: httpx.AsyncClient,
    pool: AsyncConnectionPool[Conn],
    settings: Settings,
    two_channels: None,
) -> None:
    await change(pool, settings, "epay-a", enabled=False)
    await change(pool, settings, "epay-b", enabled=False)
    refused = await client.post("/api/shop/orders", json={"product": "GAME-10"})
    assert refused.status_code == 503
    assert refused.json()["error"] == "no_payment_channel"
    assert (await client.get("/api/shop/payment-channels")).json() == []


# -- notifies -------------------------------------------------------------------------


async def order_on(client: httpx.AsyncClient, channel: str) -> dict[str, Any]:
    response = await client.post(
        "/api/shop/orders", json={"product": "GAME-10", "channel": channel}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def notified(db: Sessions) -> list[tuple[str, str, str]]:
    async with db() as s:
        rows = await s.execute(
            text("SELECT gateway, verdict, detail FROM payment_notifies ORDER BY id")
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def status(db: Sessions, order_no: str) -> str:
    async with db() as s:
        return str(
            (
                await s.execute(
                    text("SELECT status FROM orders WHERE order_no = :n"), {"n": order_no}
                )
            ).scalar_one()
        )


async def test_a_notify_counts_only_on_the_channel_the_order_was_created_on(
    client: httpx.AsyncClient, settings: Settings, db: Sessions, two_channels: None
) -> None:
    order = await order_on(client, "epay-a")
    # Correctly signed for channel B (its own key), but the order belongs to A.
    wrong_route = sign(signed_notify(settings, order["order_no"], 1000), "key-b")
    answer = await client.get("/notify/epay-b", params=wrong_route)
    assert answer.status_code == 200 and answer.text == "fail"
    assert await status(db, order["order_no"]) == "unpaid"
    right = sign(signed_notify(settings, order["order_no"], 1000), "key-a")
    assert (await client.get("/notify/epay-a", params=right)).text == "success"
    assert [v[:2] for v in await notified(db)] == [
        ("epay-b", "gateway_mismatch"),
        ("epay-a", "accepted"),
    ]


async def test_notifies_for_disabled_or_unknown_channels_are_refused_and_recorded(
    client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn], settings: Settings,
    db: Sessions, two_channels: None,
) -> None:  # fmt: skip
    order = await order_on(client, "epay-a")
    await change(pool, settings, "epay-a", enabled=False)
    params = sign(signed_notify(settings, order["order_no"], 1000), "key-a")
    disabled = await client.get("/notify/epay-a", params=params)
    unknown = await client.get("/notify/nobody", params=params)
    assert (disabled.status_code, disabled.text) == (200, "fail")
    assert (unknown.status_code, unknown.text) == (200, "fail")
    assert await notified(db) == [
        ("epay-a", "unknown_gateway", "channel 'epay-a' is disabled"),
        ("nobody", "unknown_gateway", "no gateway named 'nobody'"),
    ]
    assert await status(db, order["order_no"]) == "unpaid"
    assert await count(db, "SELECT count(*) FROM payments") == 0
    # Enabled again, the gateway's retry goes through.
    await change(pool, settings, "epay-a", enabled=True)
    assert (await client.get("/notify/epay-a", params=params)).text == "success"
    assert await status(db, order["order_no"]) == "delivered"


async def test_the_environment_is_imported_once_when_no_channel_exists(
    client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn], settings: Settings, db: Sessions
) -> None:
    await make_stocked_product(db, settings, 5, price_cents=1000)
    listed = await client.get("/api/shop/payment-channels?lang=en")
    assert listed.json() == [{"name": "epay", "kind": "epay_v1", "label": "Epay"}]
    async with transaction(pool) as conn:
        (imported,) = await service.summaries(conn, cipher=settings.card_key_cipher())
    assert (imported.name, imported.enabled, imported.secrets_set) == ("epay", True, ["key"])
    assert imported.settings == {"url": settings.epay_url, "pid": settings.epay_pid}
    # Disabled by the operator, it is not brought back by the next process.
    await change(pool, settings, "epay", enabled=False)
    from kameng.web.app import create_app

    other = create_app(settings, pool=pool)
    transport = httpx.ASGITransport(app=other, client=("127.0.0.1", 40001))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as second:
        assert (await second.get("/api/shop/payment-channels")).json() == []
    assert await count(db, "SELECT count(*) FROM payment_channels") == 1
