"""Closed-loop and fixed-rate (open-loop) load, and a bare keep-alive HTTP/1.1 client.

The client is deliberately minimal (~0.1 ms of CPU per request): the load
generator shares the cores with the server it measures, and httpx costs about
0.85 ms per request, more than a whole create-order transaction.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Phase(Generic[R]):
    name: str
    results: list[R] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.results) / self.elapsed if self.elapsed else 0.0

    def ms(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def _measured(
    phase: Phase[R], op: Callable[[T], Awaitable[R]], item: T, *, since: float
) -> None:
    """Run one operation into ``phase``: its latency counted from ``since``, or a
    failure (counted, first five kept), never retried."""
    try:
        result = await op(item)
    except Exception as exc:
        phase.failed += 1
        if len(phase.errors) < 5:
            phase.errors.append(f"{type(exc).__name__}: {exc}"[:1000])
    else:
        phase.latencies.append(time.perf_counter() - since)
        phase.results.append(result)


async def run(
    name: str,
    items: Iterable[T],
    workers: list[Callable[[T], Awaitable[R]]],
    *,
    seconds: float | None = None,
) -> Phase[R]:
    """Drain ``items`` with one coroutine per worker; stop early after ``seconds``.
    A raised exception is a failure (counted, first five kept), never retried."""
    phase: Phase[R] = Phase(name)
    source = iter(items)
    started = time.perf_counter()
    deadline = started + seconds if seconds else None

    async def worker(op: Callable[[T], Awaitable[R]]) -> None:
        for item in source:
            await _measured(phase, op, item, since=time.perf_counter())
            if deadline is not None and time.perf_counter() > deadline:
                return

    await asyncio.gather(*(worker(op) for op in workers))
    phase.elapsed = time.perf_counter() - started
    return phase


async def run_at_rate(
    name: str,
    items: Iterable[T],
    workers: list[Callable[[T], Awaitable[R]]],
    *,
    rate: float,
) -> Phase[R]:
    """Start one operation every ``1 / rate`` seconds whether or not earlier ones
    have answered (buyers arrive on their own), each on a free worker (client
    connection). A latency counts from the moment the operation was due, so a
    server that falls behind shows it (no coordinated omission): waiting for a
    free worker or for the event loop is part of it."""
    phase: Phase[R] = Phase(name)
    free: asyncio.Queue[Callable[[T], Awaitable[R]]] = asyncio.Queue()
    for op in workers:
        free.put_nowait(op)
    started = time.perf_counter()

    async def one(item: T, due: float) -> None:
        op = await free.get()
        try:
            await _measured(phase, op, item, since=due)
        finally:
            free.put_nowait(op)

    running = []
    for i, item in enumerate(items):
        due = started + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        running.append(asyncio.create_task(one(item, due)))
    await asyncio.gather(*running)
    phase.elapsed = time.perf_counter() - started
    return phase


class Client:
    """One keep-alive HTTP/1.1 connection; answers need a Content-Length."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """``body`` (when given) is sent as JSON."""
        if body is None:
            return await self.send_bytes(method, path, None, headers or {})
        json_headers = {**(headers or {}), "content-type": "application/json"}
        return await self.send_bytes(method, path, json.dumps(body).encode(), json_headers)

    async def send_bytes(
        self, method: str, path: str, data: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        """``data`` (when not None) is sent as it is, with its Content-Length."""
        if self.streams is None or self.streams[0].at_eof():
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        head = f"{method} {path} HTTP/1.1\r\nhost: {self.host}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if data is not None:
            head += f"content-length: {len(data)}\r\n"
        writer.write(head.encode() + b"\r\n" + (data or b""))
        status = int((await reader.readline()).split(b" ", 2)[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    async def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
