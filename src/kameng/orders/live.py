"""Live timelines: one LISTEN connection per process, fanned out to every open page.

A trigger on ``order_events`` NOTIFYs the order id when an event commits
(migration 0012). Each web process holds a single listening connection (not
one per open page) and wakes the subscribers of that order; a subscriber then
reads what changed through the pool. A wake-up is coalesced (a queue of one):
a slow reader sees the latest state, never a backlog. When the listening
connection drops, it is reopened with back-off and every subscriber is woken,
since notifications sent meanwhile were lost.

The same connection carries other NOTIFY channels for whoever registers a
``Follower`` (the payment channels' version, ``kameng.payments.channels.live``):
one connection per process for all of them. A follower is told when the
connection is up (after its LISTEN, so nothing later is missed) and down. The
worker holds one too, for its followers only (``timelines=False``).

A peer that vanishes without closing the connection (a server host lost, a
network cut) is noticed by TCP keepalives within about half a minute, so a
process that reads nothing while the listener is up (the worker) is not left
waiting for notifications that cannot come.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import psycopg
import structlog
from psycopg.conninfo import make_conninfo

from kameng.orders import repository

log = structlog.get_logger(__name__)

Wake = asyncio.Queue[None]
READY_WITHIN = 10.0  # seconds a new subscriber waits for the listener
# libpq's TCP keepalives on the listening connection: first probe after 10 s of
# silence, then every 5 s, given up after 3 unanswered (ignored on Unix sockets).
# Named so that an operator sees it in pg_stat_activity.
LISTENER_OPTIONS: dict[str, str | int] = {
    "application_name": "kameng-listener",
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class Follower(Protocol):
    """Something else this process's listening connection listens for."""

    @property
    def notify_channel(self) -> str: ...

    def set_listening(self, up: bool) -> None:
        """The connection is up (LISTEN done) or down (notifications may be lost)."""

    def notified(self, payload: str) -> None: ...


class TimelineHub:
    def __init__(
        self, conninfo: str, followers: Sequence[Follower] = (), *, timelines: bool = True
    ) -> None:
        """``timelines=False``: listen for the followers' channels only (a worker,
        which opens no live timeline and need not hear every order event)."""
        self._conninfo = conninfo
        self._timelines = timelines
        self._followers = {f.notify_channel: f for f in followers}
        self._subscribers: dict[int, set[Wake]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None

    @property
    def open_timelines(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    @contextlib.asynccontextmanager
    async def subscribe(self, order_id: int) -> AsyncIterator[Wake]:
        """A queue that gets a wake-up whenever the order's timeline grows. Entered
        only once the process is listening (TimeoutError otherwise), so nothing
        committed after entry is missed."""
        ready = self._start()
        wake: Wake = asyncio.Queue(maxsize=1)
        self._subscribers.setdefault(order_id, set()).add(wake)
        try:
            async with asyncio.timeout(READY_WITHIN):
                await ready.wait()
            yield wake
        finally:
            subscribers = self._subscribers.get(order_id)
            if subscribers is not None:
                subscribers.discard(wake)
                if not subscribers:
                    del self._subscribers[order_id]

    def start(self) -> None:
        """Listen from now on (the followers are served only while listening);
        without it the connection opens with the first live timeline."""
        self._start()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._tell_followers(up=False)

    def _tell_followers(self, *, up: bool) -> None:
        for follower in self._followers.values():
            follower.set_listening(up)

    def _start(self) -> asyncio.Event:
        if self._ready is None:
            self._ready = asyncio.Event()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(self._ready), name="timeline-hub")
        return self._ready

    def _wake(self, subscribers: set[Wake]) -> None:
        for wake in subscribers:
            if wake.empty():
                wake.put_nowait(None)

    def _wake_all(self) -> None:
        for subscribers in self._subscribers.values():
            self._wake(subscribers)

    async def _listen(self, ready: asyncio.Event) -> None:
        backoff = 0.5
        while True:
            try:
                conninfo = make_conninfo(self._conninfo, **LISTENER_OPTIONS)
                conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
                async with conn:
                    for channel in self._followers:
                        await repository.listen_to(conn, channel)
                    if self._timelines:
                        await repository.listen_to_events(conn)
                    ready.set()
                    self._wake_all()  # anything sent while we were away
                    self._tell_followers(up=True)
                    backoff = 0.5
                    async for note in conn.notifies():
                        follower = self._followers.get(note.channel)
                        if follower is not None:
                            follower.notified(note.payload)
                            continue
                        subscribers = self._subscribers.get(_order_id(note.payload))
                        if subscribers:
                            self._wake(subscribers)
                # notifies() ended: the connection closed under us
                raise ConnectionError("listening connection closed")
            except asyncio.CancelledError:
                self._tell_followers(up=False)
                raise
            except Exception as exc:  # the database went away: reopen, never give up
                ready.clear()
                self._tell_followers(up=False)
                log.warning("timeline_listener_lost", error=type(exc).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)


def _order_id(payload: str) -> int:
    try:
        return int(payload)
    except ValueError:
        return -1
