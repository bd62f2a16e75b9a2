"""A process that follows channel changes by LISTEN/NOTIFY skips the per-request
version read while its listener is up, and reads it on every request while
the listener is down (correctness never rests on the listener)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn, transaction
from kameng.kit import clock
from kameng.models.vocabulary import ChannelKind
from kameng.orders.live import TimelineHub
from kameng.payments.channels import repository, service
from kameng.payments.channels.live import LiveGateways
from kameng.payments.channels.service import ChannelDraft
from kameng.payments.gateways.epay_v1 import EpayV1Gateway

VALUES = {"url": "https://pay.example.com/", "pid": "2002", "key": "old-key-1"}


async def add_channel(pool: AsyncConnectionPool[Conn], settings: Settings) -> None:
    async with transaction(pool) as conn:
        await service.add(
            conn,
            ChannelDraft("rotating", ChannelKind.EPAY_V1, VALUES),
            cipher=settings.card_key_cipher(),
            now=clock.now(),
        )


async def change_pid(pool: AsyncConnectionPool[Conn], settings: Settings, pid: str) -> int:
    async with transaction(pool) as conn:
        await service.change(
            conn,
            "rotating",
            values={"pid": pid},
            cipher=settings.card_key_cipher(),
            now=clock.now(),
        )
        return await repository.version(conn)


def pid_of(gateways: LiveGateways) -> str:
    gateway = gateways.get("rotating")
    assert isinstance(gateway, EpayV1Gateway)
    return gateway.pid


async def test_without_a_listener_every_request_reads_the_version(
    pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    await add_channel(pool, settings)
    gateways = LiveGateways(settings.card_key_cipher())
    await gateways.refresh_from(pool, max_age=0)
    assert pid_of(gateways) == "2002"
    await change_pid(pool, settings, "3003")
    async with transaction(pool) as conn:
        await gateways.refresh(conn)
    assert pid_of(gateways) == "3003"


async def test_while_listening_a_request_trusts_the_notifications(
    pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    await add_channel(pool, settings)
    gateways = LiveGateways(
        settings.card_key_cipher()
    )  # no pool: nothing re-read in the background
    gateways.set_listening(True)
    async with transaction(pool) as conn:
        await gateways.refresh(conn)  # the first read after the listener came up
    assert pid_of(gateways) == "2002"
    version = await change_pid(pool, settings, "3003")
    async with transaction(pool) as conn:
        await gateways.refresh(conn)  # no notification delivered here: not read
    assert pid_of(gateways) == "2002"
    gateways.notified("")
    async with transaction(pool) as conn:
        await gateways.refresh(conn)
    assert (pid_of(gateways), gateways.version) == ("3003", version)
    await change_pid(pool, settings, "4004")
    gateways.set_listening(False)  # the listener lost: back to reading per request
    async with transaction(pool) as conn:
        await gateways.refresh(conn)
    assert pid_of(gateways) == "4004"


async def test_the_hub_brings_a_change_without_any_request(
    pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    await add_channel(pool, settings)
    gateways = LiveGateways(settings.card_key_cipher(), pool=pool)
    hub = TimelineHub(str(pool.conninfo), followers=[gateways])
    hub.start()
    try:
        await wait_until(lambda: gateways.listening and gateways.version is not None)
        assert pid_of(gateways) == "2002"
        version = await change_pid(pool, settings, "3003")
        await wait_until(lambda: gateways.version == version)
        assert pid_of(gateways) == "3003"
    finally:
        await hub.close()
    assert gateways.listening is False


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (state of another task, no event to await)
            await asyncio.sleep(0.01)
