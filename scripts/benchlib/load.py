"""Bounded closed-loop load: C workers drain a fixed list of items, nothing more.

Each worker takes the next item, runs one operation, records its latency, and
repeats until the list is empty (or an optional deadline passes). Throughput
is completed operations over the wall time from the first start to the last
finish. CPU time of this process, of the app server and of the whole machine
is sampled around the phase, so the report can say who used the cores.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_ERRORS_KEPT = 5


class OpFailed(Exception):
    """An operation that completed but did not do what it should (counted, not raised)."""


@dataclass
class CpuSample:
    wall: float
    machine_busy: float | None  # CPU-seconds, all cores
    generator: float  # CPU-seconds of this process
    server: float | None  # CPU-seconds of the app server process


def _machine_busy() -> float | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = stat[stat.rindex(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def cpu_sample(server_pid: int | None) -> CpuSample:
    times = os.times()
    return CpuSample(
        wall=time.perf_counter(),
        machine_busy=_machine_busy(),
        generator=times.user + times.system,
        server=_process_cpu(server_pid),
    )


@dataclass
class CpuShare:
    """Average busy cores over the phase (2.0 = both cores of a 2-core box busy)."""

    generator: float
    server: float | None
    database_and_rest: float | None  # machine busy - generator - server

    def as_dict(self) -> dict[str, float | None]:
        return {
            "generator_cores": round(self.generator, 3),
            "server_cores": None if self.server is None else round(self.server, 3),
            "postgres_and_rest_cores": (
                None if self.database_and_rest is None else round(self.database_and_rest, 3)
            ),
        }


def cpu_share(before: CpuSample, after: CpuSample) -> CpuShare:
    wall = max(after.wall - before.wall, 1e-9)
    gen = (after.generator - before.generator) / wall
    srv = (
        None
        if before.server is None or after.server is None
        else (after.server - before.server) / wall
    )
    rest = None
    if before.machine_busy is not None and after.machine_busy is not None:
        rest = (after.machine_busy - before.machine_busy) / wall - gen - (srv or 0.0)
        rest = max(rest, 0.0)
    return CpuShare(generator=gen, server=srv, database_and_rest=rest)


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass
class PhaseResult(Generic[R]):
    name: str
    attempted: int
    results: list[R]
    failures: int
    errors: list[str]
    elapsed: float
    latencies: list[float]  # seconds, successful operations only
    cpu: CpuShare | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return len(self.results)

    @property
    def rate(self) -> float:
        """Successful operations per second of wall time."""
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def latency_ms(self, p: float) -> float | None:
        value = percentile(sorted(self.latencies), p)
        return None if value is None else value * 1000

    def summary(self) -> dict[str, object]:
        p50, p99 = self.latency_ms(50), self.latency_ms(99)
        return {
            "attempted": self.attempted,
            "ok": self.ok,
            "failed": self.failures,
            "elapsed_s": round(self.elapsed, 3),
            "per_second": round(self.rate, 1),
            "latency_p50_ms": None if p50 is None else round(p50, 2),
            "latency_p99_ms": None if p99 is None else round(p99, 2),
            "errors": self.errors,
            "cpu": None if self.cpu is None else self.cpu.as_dict(),
            **self.extra,
        }


Op = Callable[[T], Awaitable[R]]


async def run_phase(
    name: str,
    items: Sequence[T],
    workers: Sequence[Op[T, R]],
    *,
    duration: float | None = None,
    server_pid: int | None = None,
) -> PhaseResult[R]:
    """Drain ``items`` with one coroutine per entry of ``workers`` (each its own connection).

    An operation raising is a failure (counted, first errors kept); the phase
    never retries. ``duration`` stops handing out items after that many seconds.
    """
    import asyncio

    source: Iterator[T] = iter(items)
    results: list[R] = []
    latencies: list[float] = []
    errors: list[str] = []
    counters = {"attempted": 0, "failed": 0}
    started = time.perf_counter()
    deadline = None if duration is None else started + duration

    async def worker(op: Op[T, R]) -> None:
        while deadline is None or time.perf_counter() < deadline:
            item = next(source, None)
            if item is None:
                return
            counters["attempted"] += 1
            t0 = time.perf_counter()
            try:
                result = await op(item)
            except Exception as exc:
                counters["failed"] += 1
                if len(errors) < MAX_ERRORS_KEPT:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            latencies.append(time.perf_counter() - t0)
            results.append(result)

    before = cpu_sample(server_pid)
    await asyncio.gather(*(worker(op) for op in workers))
    after = cpu_sample(server_pid)
    return PhaseResult(
        name=name,
        attempted=counters["attempted"],
        results=results,
        failures=counters["failed"],
        errors=errors,
        elapsed=after.wall - before.wall,
        latencies=latencies,
        cpu=cpu_share(before, after),
    )
