"""Bounded closed-loop load: C workers drain a fixed list of items, nothing more.

Each worker takes the next item, runs one operation, records its latency, and
repeats until the list is empty (or an optional deadline passes). Throughput
is completed operations over the wall time from the first start to the last
finish. CPU time of this process, of the app server and of the whole machine
is sampled around the phase, so the report can say who used the cores.
"""

from __future__ import annotations

import asyncio
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
    server: float | None  # CPU-seconds of the app server (all its worker processes)
    postgres: float | None  # CPU-seconds of the whole PostgreSQL server, exited backends included


def _machine_busy() -> float | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def parent_pid(pid: int) -> int | None:
    rest = _stat_fields(pid)
    return None if rest is None else int(rest[1])


def tree_cpu(root: int | None) -> float | None:
    """CPU-seconds of a process and its children: its own time, its live children's
    (PostgreSQL backends, WAL writer…; uvicorn worker processes) and, through
    cutime/cstime, every child already reaped."""
    if root is None or (own := _stat_fields(root)) is None:
        return None
    ticks = sum(int(x) for x in own[11:15])  # utime, stime, cutime, cstime
    parent = str(root)
    for entry in Path("/proc").iterdir():
        rest = _stat_fields(entry.name) if entry.name.isdigit() else None
        if rest is not None and rest[1] == parent:
            ticks += int(rest[11]) + int(rest[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMonitor:
    """Who used the cores during a phase: this process (the load generator), the app
    server, the PostgreSQL server (when it runs on this machine), and everything else
    (kernel softirq work for loopback TCP, other users of the machine)."""

    def __init__(self, server_pid: int | None, postmaster_pid: int | None) -> None:
        self.server_pid = server_pid
        self.postmaster_pid = postmaster_pid

    def sample(self) -> CpuSample:
        postgres = tree_cpu(self.postmaster_pid)
        times = os.times()
        return CpuSample(
            wall=time.perf_counter(),
            machine_busy=_machine_busy(),
            generator=times.user + times.system,
            server=tree_cpu(self.server_pid),
            postgres=postgres,
        )


@dataclass
class CpuShare:
    """Average busy cores over the phase (2.0 = both cores of a 2-core box busy)."""

    generator: float
    server: float | None
    postgres: float | None  # the whole PostgreSQL server (None: not local / not readable)
    other: float | None  # machine busy - the above: softirq, other users of the box

    def as_dict(self) -> dict[str, float | None]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "generator_cores": r(self.generator),
            "server_cores": r(self.server),
            "postgres_cores": r(self.postgres),
            "other_cores": r(self.other),
        }

    def ms_per_op(self, rate: float) -> dict[str, float | None]:
        return {
            "generator": _per_op(self.generator, rate),
            "server": _per_op(self.server, rate),
            "postgres": _per_op(self.postgres, rate),
        }


def _per_op(cores: float | None, rate: float) -> float | None:
    return None if cores is None or rate <= 0 else round(cores / rate * 1000, 3)


def cpu_share(before: CpuSample, after: CpuSample) -> CpuShare:
    wall = max(after.wall - before.wall, 1e-9)
    gen = (after.generator - before.generator) / wall
    srv = (
        None
        if before.server is None or after.server is None
        else (after.server - before.server) / wall
    )
    pg: float | None = None
    if before.postgres is not None and after.postgres is not None:
        pg = (after.postgres - before.postgres) / wall
    other = None
    if before.machine_busy is not None and after.machine_busy is not None:
        busy = (after.machine_busy - before.machine_busy) / wall
        other = max(busy - gen - (srv or 0.0) - (pg or 0.0), 0.0)
    return CpuShare(generator=gen, server=srv, postgres=pg, other=other)


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
            "cpu_ms_per_op": None if self.cpu is None else self.cpu.ms_per_op(self.rate),
            **self.extra,
        }


Op = Callable[[T], Awaitable[R]]


async def run_phase(
    name: str,
    items: Sequence[T],
    workers: Sequence[Op[T, R]],
    *,
    duration: float | None = None,
    monitor: CpuMonitor | None = None,
) -> PhaseResult[R]:
    """Drain ``items`` with one coroutine per entry of ``workers`` (each its own connection).

    An operation raising is a failure (counted, first errors kept); the phase
    never retries. ``duration`` stops handing out items after that many seconds.
    """
    source: Iterator[T] = iter(items)
    results: list[R] = []
    latencies: list[float] = []
    errors: list[str] = []
    counters = {"attempted": 0, "failed": 0}
    deadline: float | None = None

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

    monitor = monitor or CpuMonitor(None, None)
    before = monitor.sample()
    t_start = time.perf_counter()
    if duration is not None:
        deadline = t_start + duration
    await asyncio.gather(*(worker(op) for op in workers))
    t_end = time.perf_counter()
    after = monitor.sample()
    return PhaseResult(
        name=name,
        attempted=counters["attempted"],
        results=results,
        failures=counters["failed"],
        errors=errors,
        elapsed=t_end - t_start,
        latencies=latencies,
        cpu=cpu_share(before, after),
    )
