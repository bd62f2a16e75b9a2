"""The worker follows the payment channels as the web processes do: by NOTIFY on
a listening connection of its own. While the listener is up and nothing
changes it sends no statement at all (counted on every connection of its pool);
a change costs exactly the two reads of one catch-up; while the listener is
down it reads the version every polling interval, and stops once it is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn, fetch_all
from kameng.db.engine import CONNECT_OPTIONS, libpq_url
from kameng.orders.live import LISTENER_OPTIONS
from kameng.payments.channels.live import LiveGateways
from kameng.worker.app import follow_channels
from tests.payments.test_channels_listening import add_channel, change_pid, pid_of, wait_until

POLL = 0.02  # the worker's fallback poll, short so that idle time holds many polls
IDLE = 50 * POLL  # fifty polls' worth of time with nothing changing


@pytest.fixture
async def counted(database_url: str) -> AsyncIterator[tuple[AsyncConnectionPool[Conn], list[str]]]:
    """A pool like the worker's (not autocommit) that records every statement
    sent on any of its connections."""
    sent: list[str] = []

    class Counting(psycopg.AsyncCursor[Any]):
        async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(str(query))
            return await super().execute(query, *args, **kwargs)

    async def configure(conn: Conn) -> None:
        conn.cursor_factory = Counting

    pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
        libpq_url(database_url),
        min_size=1,
        max_size=2,
        open=False,
        kwargs={"options": CONNECT_OPTIONS},
        configure=configure,
    )
    await pool.open()
    try:
        yield pool, sent
    finally:
        await pool.close()


async def drop_listener(pool: AsyncConnectionPool[Conn]) -> int:
    """Terminate this database's listening connections (as a server restart would)."""
    async with pool.connection() as conn:
        rows = await fetch_all(
            conn,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %(name)s AND datname = current_database()",
            {"name": LISTENER_OPTIONS["application_name"]},
        )
    return len(rows)


async def test_an_idle_worker_sends_nothing_and_a_change_arrives_by_notify(
    pool: AsyncConnectionPool[Conn],
    settings: Settings,
    counted: tuple[AsyncConnectionPool[Conn], list[str]],
) -> None:
    worker_pool, sent = counted
    await add_channel(pool, settings)
    gateways = LiveGateways(settings.card_key_cipher())  # as the worker builds it: no pool
    async with follow_channels(gateways, worker_pool, poll_every=POLL):
        await wait_until(lambda: gateways.settled)
        assert pid_of(gateways) == "2002"
        idle_from = len(sent)
        await asyncio.sleep(IDLE)
        assert sent[idle_from:] == []  # no version read, nothing at all
        version = await change_pid(pool, settings, "3003")
        await wait_until(lambda: gateways.version == version)
        assert pid_of(gateways) == "3003"
        # Woken by the notification, not by a poll: the version, then the channels.
        read = sent[idle_from:]
        assert len(read) == 2, read
        assert all("payment_channels_version" in statement for statement in read)
        await asyncio.sleep(IDLE)
        assert len(sent) == idle_from + 2


async def test_while_the_listener_is_down_the_worker_polls_and_stops_once_back(
    pool: AsyncConnectionPool[Conn],
    settings: Settings,
    counted: tuple[AsyncConnectionPool[Conn], list[str]],
) -> None:
    worker_pool, sent = counted
    await add_channel(pool, settings)
    gateways = LiveGateways(settings.card_key_cipher())
    async with follow_channels(gateways, worker_pool, poll_every=POLL):
        await wait_until(lambda: gateways.settled)
        quiet_from = len(sent)
        assert await drop_listener(pool) == 1
        # The counter sees the polls: three reads and more while the listener is away.
        await wait_until(lambda: len(sent) >= quiet_from + 3)
        assert all("payment_channels_version" in s for s in sent[quiet_from:])
        version = await change_pid(pool, settings, "3003")
        await wait_until(lambda: gateways.version == version)  # by a poll or on reconnecting
        assert pid_of(gateways) == "3003"
        await wait_until(lambda: gateways.settled)  # reconnected (0.5 s back-off)
        back_from = len(sent)
        await asyncio.sleep(IDLE)
        assert sent[back_from:] == []
    assert gateways.listening is False


async def test_the_worker_listener_hears_no_order_events(
    pool: AsyncConnectionPool[Conn], settings: Settings, database_url: str
) -> None:
    gateways = LiveGateways(settings.card_key_cipher())
    async with follow_channels(gateways, pool, poll_every=POLL):
        await wait_until(lambda: gateways.settled)
        async with await psycopg.AsyncConnection.connect(
            libpq_url(database_url), autocommit=True
        ) as conn:
            rows = await fetch_all(
                conn,
                "SELECT query FROM pg_stat_activity "
                "WHERE application_name = %(name)s AND datname = current_database()",
                {"name": LISTENER_OPTIONS["application_name"]},
            )
    # Its last statement is the channels' LISTEN: no LISTEN for the order events follows.
    assert [r[0] for r in rows] == ["LISTEN payment_channels"]
