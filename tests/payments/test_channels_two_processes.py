"""A changed channel key reaches every web process at once: two shops on their
own sockets, each with its own runtime (as two ``kameng web`` processes have),
both refuse the old key after the change. Each process learns of it by NOTIFY
on its listening connection (no request reads the version meanwhile: the
wait below only scrapes /metrics, which does not refresh the channels)."""

from __future__ import annotations

import re
import time

import httpx
from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn, transaction
from kameng.kit import clock
from kameng.models.vocabulary import ChannelKind
from kameng.payments.channels import repository, service
from kameng.payments.channels.service import ChannelDraft
from kameng.payments.gateways import epay_sign
from tests.factories import Sessions, count, make_stocked_product, notify_verdicts
from tests.support import live


def notify(shop: str, order_no: str, key: str) -> str:
    params = {
        "pid": "2002",
        "trade_no": f"T{order_no}",
        "out_trade_no": order_no,
        "type": "alipay",
        "name": "游戏点卡 10 元",
        "money": "10",
        "trade_status": "TRADE_SUCCESS",
    }
    params["sign"] = epay_sign.sign(params, key)
    params["sign_type"] = "MD5"
    return httpx.get(f"{shop}/notify/rotating", params=params).text


def gauge(shop: str, name: str) -> int:
    text = httpx.get(f"{shop}/metrics").text
    found = re.search(rf"^{name} (-?[0-9.e+]+)$", text, re.MULTILINE)
    assert found is not None, text
    return int(float(found.group(1)))


def wait_for(shop: str, name: str, value: int, within: float) -> None:
    """Until the process's gauge shows ``value``; fails after ``within`` seconds."""
    deadline = time.monotonic() + within
    while gauge(shop, name) != value:
        assert time.monotonic() < deadline, f"{shop}: {name} is not {value}"
        time.sleep(0.02)


def order(shop: str) -> str:
    response = httpx.post(f"{shop}/api/shop/orders", json={"product": "GAME-10"})
    assert response.status_code == 201, response.text
    return str(response.json()["order_no"])


async def test_a_new_key_is_the_only_one_accepted_by_both_processes(
    pool: AsyncConnectionPool[Conn], settings: Settings, db: Sessions
) -> None:
    await make_stocked_product(db, settings, 5, price_cents=1000)
    cipher = settings.card_key_cipher()
    values = {"url": "https://pay.example.com/", "pid": "2002", "key": "old-key-1"}
    async with transaction(pool) as conn:
        await service.add(
            conn,
            ChannelDraft("rotating", ChannelKind.EPAY_V1, values),
            cipher=cipher,
            now=clock.now(),
        )
    first, second = live.live_settings(settings), live.live_settings(settings)
    with live.serve(first) as a, live.serve(second) as b:
        for shop in (a, b):  # the listening connection opens with the process
            wait_for(shop, "kameng_payment_channels_listening", 1, within=30)
        paid_on_a, paid_on_b, waiting = order(a), order(b), order(a)
        # Both processes hold the old key (and use it).
        assert notify(a, paid_on_a, "old-key-1") == "success"
        assert notify(b, paid_on_b, "old-key-1") == "success"
        async with transaction(pool) as conn:
            before = await repository.version(conn)
        for shop in (a, b):
            wait_for(shop, "kameng_payment_channels_version", before, within=1.0)
        async with transaction(pool) as conn:
            await service.change(
                conn, "rotating", values={"key": "new-key-2"}, cipher=cipher, now=clock.now()
            )
        # Told by NOTIFY within a second, without a request to either shop.
        for shop in (a, b):
            wait_for(shop, "kameng_payment_channels_version", before + 1, within=1.0)
        assert notify(a, waiting, "old-key-1") == "fail"
        assert notify(b, waiting, "old-key-1") == "fail"
        assert await count(db, "SELECT count(*) FROM payments") == 2
        assert notify(b, waiting, "new-key-2") == "success"
        assert notify(a, waiting, "new-key-2") == "success"  # a duplicate, acknowledged
    assert await notify_verdicts(db) == [
        "accepted", "accepted", "bad_signature", "bad_signature", "accepted", "duplicate",
    ]  # fmt: skip
    assert await count(db, "SELECT count(*) FROM payments") == 3
