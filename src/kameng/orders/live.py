"""Live timelines: one LISTEN connection per process, fanned out to every open page.

A trigger on ``order_events`` NOTIFYs the order id when an event commits
(migration 0012). Each web process holds a single listening connection (not
one per open page) and wakes the subscribers of that order; a subscriber then
reads what changed through the pool. A wake-up is coalesced (a queue of one):
a slow reader sees the latest state, never a backlog. When the listening
connection drops, it is reopened with back-off and every subscriber is woken,
since notifications sent meanwhile were lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import psycopg
import structlog

from kameng.orders import repository

log = structlog.get_logger(__name__)

Wake = asyncio.Queue[None]
READY_WITHIN = 10.0  # seconds a new subscriber waits for the listener


class TimelineHub:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
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

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

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
                conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
                async with conn:
                    await repository.listen_to_events(conn)
                    ready.set()
                    self._wake_all()  # anything sent while we were away
                    backoff = 0.5
                    async for note in conn.notifies():
                        subscribers = self._subscribers.get(_order_id(note.payload))
                        if subscribers:
                            self._wake(subscribers)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: reopen, never give up
                ready.clear()
                log.warning("timeline_listener_lost", error=type(exc).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)


def _order_id(payload: str) -> int:
    try:
        return int(payload)
    except ValueError:
        return -1
