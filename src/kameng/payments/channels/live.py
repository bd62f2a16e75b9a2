"""The gateways of the database's channels, kept current in every process.

Each process holds the adapters it built, with the version of the channels
table they were built from (``payment_channels_version``, bumped by a trigger
on every change, which also NOTIFYs ``payment_channels`` after commit).
``refresh(conn)`` reads that one integer and rebuilds only when it moved.

In a web process the version is followed on the process's one listening
connection (``kameng.orders.live.TimelineHub``): while it is up, a request
reads the version only after a notification said it moved, or when the last
read is more than ``RECHECK_SECONDS`` old (a listener that died without a
word still costs at most a second of staleness). While it is down or
reconnecting, every notify, order creation, order page and pay start reads it
(one query), as before: correctness never rests on the listener. A change
is thus seen by every web process within the NOTIFY's delivery (milliseconds)
and never later than a second.

The worker, which has no requests, listens the same way (its own listening
connection, ``kameng.worker.app.follow_channels``) and re-reads in ``follow``:
once per notification while the listener is up, and nothing at all while
nothing changes; every ``interval`` (half a second) while it is down, or while
a re-read after a notification failed.

Fail closed: a channel is served only when enabled, complete and buildable;
anything else is listed as disabled (its notifies are refused and recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import structlog

from kameng.config import Settings
from kameng.db.connection import Conn, atomic, transaction
from kameng.kit import clock
from kameng.kit.crypto import CardKeyCipher
from kameng.payments.channels import kinds, repository, service
from kameng.payments.channels.env_import import drafts_from_settings
from kameng.payments.channels.repository import ChannelRow
from kameng.payments.channels.service import ChannelDraft
from kameng.payments.gateways.base import Gateway
from kameng.payments.gateways.registry import ChannelInfo, GatewayRegistry

if TYPE_CHECKING:
    import httpx
    from psycopg_pool import AsyncConnectionPool

log = structlog.get_logger()

# Longest a listening process goes without reading the version itself.
RECHECK_SECONDS = 1.0


class LiveGateways(GatewayRegistry):
    def __init__(
        self,
        cipher: CardKeyCipher,
        *,
        imports: list[ChannelDraft] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        pool: AsyncConnectionPool[Conn] | None = None,
    ) -> None:
        """``pool``: where to re-read the channels as soon as a notification says
        they changed (web processes), instead of on the next request."""
        super().__init__([])
        self._pool = pool
        self._catching_up: set[asyncio.Task[None]] = set()
        self._cipher = cipher
        self._imports = imports or []
        self._transport = transport
        self._version: int | None = None
        self._channels: list[ChannelInfo] = []
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()
        self._listening = False  # told by the process's listening connection
        # Notifications (and listener restarts) counted, and how many of them
        # the gateways are known to reflect: unequal means read the version.
        self._told = 1
        self._caught_up_to = 0
        # Set on every notification and listener change: wakes ``follow``.
        self._nudge = asyncio.Event()

    @property
    def version(self) -> int | None:
        return self._version

    @property
    def listening(self) -> bool:
        return self._listening

    @property
    def settled(self) -> bool:
        """Listening, and every notification so far is read: nothing to re-read."""
        return self._listening and self._caught_up_to == self._told

    # Follower of the process's listening connection (kameng.orders.live.Follower).
    notify_channel = repository.CHANGES_CHANNEL

    def set_listening(self, up: bool) -> None:
        self._listening = up
        self._told += 1  # notifications may have been lost: read again
        self._nudge.set()
        if up:
            self._catch_up_soon()

    def notified(self, payload: str) -> None:
        self._told += 1
        self._nudge.set()
        self._catch_up_soon()

    def _catch_up_soon(self) -> None:
        """Re-read now, in the background, so no request waits for the rebuild."""
        if self._pool is None:
            return  # the next request reads it
        task = asyncio.get_running_loop().create_task(self._catch_up_now(self._pool))
        self._catching_up.add(task)  # a reference until done, or it may be collected
        task.add_done_callback(self._catching_up.discard)

    async def _catch_up_now(self, pool: AsyncConnectionPool[Conn]) -> None:
        try:
            await self.refresh_from(pool, max_age=0)
        except Exception:  # still stale: the next request reads the version itself
            log.warning("payment channels not refreshed", exc_info=True)

    def _fresh(self, max_age: float) -> bool:
        """Checked recently enough not to read the version again."""
        if self.settled:
            max_age = max(max_age, RECHECK_SECONDS)
        return time.monotonic() - self._checked_at < max_age

    def channels(self) -> list[ChannelInfo]:
        return list(self._channels)

    async def refresh(self, conn: Conn, max_age: float = 0.0) -> None:
        if self._fresh(max_age):
            return
        self._checked_at = time.monotonic()
        told = self._told  # before the read: a notification during it counts as new
        await self._catch_up(conn)
        # Only now: a request during a catch-up (a first-run import) reads too.
        self._caught_up_to = max(self._caught_up_to, told)

    async def _catch_up(self, conn: Conn) -> None:
        if await repository.version(conn) == self._version:
            return
        async with self._lock:  # one rebuild at a time per process
            version, rows = await repository.load_all(conn)
            if version == self._version:
                return
            if not rows and self._imports:
                async with atomic(conn):  # all of them or none, on any kind of connection
                    added = await service.import_once(
                        conn, self._imports, cipher=self._cipher, now=clock.now()
                    )
                if added:
                    log.info("payment channels imported from the environment", names=added)
                version, rows = await repository.load_all(conn)
            self._apply(version, rows)

    async def refresh_from(self, pool: AsyncConnectionPool[Conn], max_age: float = 1.0) -> None:
        if self._fresh(max_age):
            return
        async with transaction(pool) as conn:
            await self.refresh(conn, max_age)

    async def follow(self, pool: AsyncConnectionPool[Conn], interval: float = 0.5) -> None:
        """Keep the channels current until cancelled (the worker, which has no
        requests to read the version on; built without ``pool``, so this loop is
        the only reader). While settled it reads nothing and waits for the next
        notification; otherwise (listener down, or a re-read that failed) it
        reads the version every ``interval``, and at once when the listener is
        back."""
        while True:
            self._nudge.clear()  # before the read: a notification during it counts
            if not self.settled:
                try:
                    await self.refresh_from(pool, max_age=0)
                except Exception:  # the database is away: keep the last known channels
                    log.warning("payment channels not refreshed", exc_info=True)
            if self.settled:
                await self._nudge.wait()
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._nudge.wait()

    def _apply(self, version: int, rows: list[ChannelRow]) -> None:
        built: dict[str, Gateway] = {}
        infos: list[ChannelInfo] = []
        disabled: set[str] = set()
        for row in rows:
            gateway = self._build(row) if row.enabled else None
            if gateway is None:
                disabled.add(row.name)
                continue
            built[row.name] = gateway
            infos.append(
                ChannelInfo(row.name, row.kind.value, gateway.title, row.label_zh, row.label_en)
            )
        # Replaced adapters are dropped, not closed: a call under way may still use one.
        self._by_name, self._channels, self._disabled = built, infos, frozenset(disabled)
        self._version = version
        log.info(
            "payment channels loaded",
            version=version,
            enabled=list(built),
            disabled=sorted(disabled),
        )

    def _build(self, row: ChannelRow) -> Gateway | None:
        try:
            values = service.values_of(row, self._cipher)
            gaps = kinds.missing(row.kind, values)
            if gaps:
                log.warning(
                    "payment channel incomplete: not served", channel=row.name, missing=gaps
                )
                return None
            return kinds.build(row.kind, row.name, values, self._transport)
        except Exception as exc:  # a bad key file: this channel off, the others on
            log.warning(
                "payment channel unusable: not served", channel=row.name, error=type(exc).__name__
            )
            return None


def from_database(settings: Settings) -> LiveGateways:
    """The channels of the database, with the environment's gateways as the
    first-run import (web and worker processes)."""
    return LiveGateways(settings.card_key_cipher(), imports=drafts_from_settings(settings))
