"""Turning phase results into the table (stdout) or JSON (``--json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchlib.http_client import Visible
from benchlib.load import PhaseResult, percentile

TARGET = 0.5


@dataclass
class Meta:
    when: str
    pg_version: str
    pg_kind: str  # "embedded" or "DATABASE_URL"
    pg_settings: dict[str, str]
    cores: int
    concurrency: int
    orders: int
    warmup: int
    duration: float | None
    latency_sample: int
    latency_concurrency: int
    server_profiled: bool = False
    client: str = "minimal"
    workers: int = 1
    connections_per_worker: list[int] = field(default_factory=list)
    pool_size: int = 0
    # libpq-traced round trips etc. per transaction, identical for app and raw
    wire: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class Results:
    meta: Meta
    http_create: PhaseResult[Any]
    http_notify: PhaseResult[Any]
    latency: PhaseResult[Visible]
    raw_create: PhaseResult[Any]
    raw_notify: PhaseResult[Any]
    database: dict[str, Any]


def _ratio(http: PhaseResult[Any], raw: PhaseResult[Any]) -> float | None:
    return http.rate / raw.rate if raw.rate > 0 else None


def _ms(seconds: list[float], p: float) -> float | None:
    value = percentile(sorted(seconds), p)
    return None if value is None else value * 1000


def _fmt_ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _rate(phase: PhaseResult[Any]) -> str:
    text = f"{phase.rate:,.0f}"
    return text if phase.failures == 0 else f"{text} ({phase.failures} FAILED)"


def _verdict(ratio: float | None) -> str:
    if ratio is None:
        return "n/a"
    return "met" if ratio >= TARGET else "MISSED"


def latency_figures(latency: PhaseResult[Visible]) -> dict[str, Any]:
    totals = [v.total for v in latency.results]
    notifies = [v.notify for v in latency.results]
    return {
        "samples": latency.attempted,
        "ok": latency.ok,
        "failed": latency.failures,
        "p50_ms": _round(_ms(totals, 50)),
        "p99_ms": _round(_ms(totals, 99)),
        "max_ms": _round(max(totals) * 1000 if totals else None),
        "notify_only_p50_ms": _round(_ms(notifies, 50)),
        "notify_only_p99_ms": _round(_ms(notifies, 99)),
        "keys_at_first_get": sum(1 for v in latency.results if v.polls == 1),
        "errors": latency.errors,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def as_json(r: Results) -> dict[str, Any]:
    create_ratio = _ratio(r.http_create, r.raw_create)
    notify_ratio = _ratio(r.http_notify, r.raw_notify)
    return {
        "meta": {
            **r.meta.__dict__,
            "machine_note": f"{r.meta.cores} CPU cores shared by PostgreSQL, the app server "
            "and the load generator",
        },
        "create_order": {
            "http": r.http_create.summary(),
            "raw_sql": r.raw_create.summary(),
            "http_over_raw": _round3(create_ratio),
            "meets_target": create_ratio is not None and create_ratio >= TARGET,
        },
        "paid_notify": {
            "http": r.http_notify.summary(),
            "raw_sql": r.raw_notify.summary(),
            "http_over_raw": _round3(notify_ratio),
            "meets_target": notify_ratio is not None and notify_ratio >= TARGET,
        },
        "notify_to_keys_visible": latency_figures(r.latency),
        "target_ratio": TARGET,
        "max_other_load_cores": _round3(other_load(r)),
        "database_after_run": r.database,
    }


def _round3(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _cores(phase: PhaseResult[Any]) -> str:
    """Busy cores per party, and CPU milliseconds per completed operation."""
    if phase.cpu is None:
        return "n/a"
    c = phase.cpu

    def part(label: str, cores: float | None) -> str:
        if cores is None:
            return f"{label} n/a"
        per_op = cores / phase.rate * 1000 if phase.rate > 0 else float("nan")
        return f"{label} {cores:.2f} ({per_op:.2f} ms/op)"

    parts = [part("generator", c.generator)]
    if c.server is not None:
        parts.append(part("app server", c.server))
    parts.append(part("PostgreSQL", c.postgres))
    parts.append("other " + ("n/a" if c.other is None else f"{c.other:.2f}"))
    return ", ".join(parts)


def _lat(phase: PhaseResult[Any]) -> str:
    return f"{_fmt_ms(phase.latency_ms(50))} / {_fmt_ms(phase.latency_ms(99))}"


def as_table(r: Results) -> str:
    m = r.meta
    create_ratio = _ratio(r.http_create, r.raw_create)
    notify_ratio = _ratio(r.http_notify, r.raw_notify)
    lat = latency_figures(r.latency)
    settings = ", ".join(f"{k}={v}" for k, v in m.pg_settings.items())
    span = f"N={m.orders}" + (f" (or {m.duration:g}s per phase)" if m.duration else "")
    lines = [
        f"kameng bench — {m.when}, PostgreSQL {m.pg_version} {m.pg_kind} ({settings})",
        f"{m.cores} CPU cores shared by PG + app server (uvicorn {_workers(m)}, uvloop, "
        f"httptools, psycopg pool of {m.pool_size} per worker) + load generator",
        f"load generator: one process, HTTP client {CLIENT_NAMES.get(m.client, m.client)}; "
        "raw SQL through psycopg",
        *_wire_line(m),
        f"concurrency {m.concurrency}, {span}, warm-up {m.warmup} per path (not counted)",
        *_noise_warning(r),
        "",
        f"{'path':<26}{'HTTP/s':>14}{'raw SQL/s':>14}{'HTTP/raw':>10}   target ≥ {TARGET}",
        f"{'create order':<26}{_rate(r.http_create):>14}{_rate(r.raw_create):>14}"
        f"{_fmt_ratio(create_ratio):>10}   {_verdict(create_ratio)}",
        f"{'paid notify (+keys)':<26}{_rate(r.http_notify):>14}{_rate(r.raw_notify):>14}"
        f"{_fmt_ratio(notify_ratio):>10}   {_verdict(notify_ratio)}",
        f"{'notify → keys visible':<26}{'p50 ' + _fmt_ms(lat['p50_ms']):>14}"
        f"{'p99 ' + _fmt_ms(lat['p99_ms']):>14}   "
        f"({lat['ok']}/{lat['samples']} orders, concurrency {m.latency_concurrency}; "
        f"notify alone p50 {_fmt_ms(lat['notify_only_p50_ms'])}, "
        f"keys at first GET {lat['keys_at_first_get']}/{lat['ok']})",
        "",
        "failures       " + " · ".join(f"{n} {p.failures}/{p.attempted}" for n, p in _phases(r)),
        f"p50/p99 under load   HTTP create {_lat(r.http_create)}, notify {_lat(r.http_notify)}"
        f" · raw create {_lat(r.raw_create)}, notify {_lat(r.raw_notify)}",
        f"cores busy (of {m.cores}), CPU per op:",
        f"  HTTP create   {_cores(r.http_create)}",
        f"  HTTP notify   {_cores(r.http_notify)}",
        f"  raw create    {_cores(r.raw_create)}",
        f"  raw notify    {_cores(r.raw_notify)}",
        f"database after run   {_database_line(r.database)}",
    ]
    errors = [f"  {name}: {e}" for name, p in _phases(r) for e in p.errors]
    if errors:
        lines += ["first errors:", *errors]
    return "\n".join(lines) + "\n"


CLIENT_NAMES = {
    "minimal": "'minimal' (bare keep-alive HTTP/1.1, benchlib.mini_http)",
    "httpx": "'httpx' (httpx.AsyncClient, ≈0.85 ms CPU per request)",
}


def _workers(m: Meta) -> str:
    if m.workers == 1:
        return "1 worker"
    spread = "/".join(map(str, m.connections_per_worker)) or "left to the kernel"
    return f"{m.workers} workers, client connections per worker {spread}"


def _wire_line(m: Meta) -> list[str]:
    if not m.wire:
        return []
    parts = [
        f"{name} {w['round_trips']} ({w['executes']} statements incl. BEGIN/COMMIT, "
        f"{w['syncs']} syncs)"
        for name, w in m.wire.items()
    ]
    return ["round trips per transaction, app = raw (libpq trace): " + ", ".join(parts)]


def _phases(r: Results) -> list[tuple[str, PhaseResult[Any]]]:
    return [
        ("HTTP create", r.http_create),
        ("HTTP notify", r.http_notify),
        ("latency", r.latency),
        ("raw create", r.raw_create),
        ("raw notify", r.raw_notify),
    ]


NOISE_CORES = 0.25


def other_load(r: Results) -> float | None:
    """The most CPU that processes outside the bench took during a measured phase."""
    values = [p.cpu.other for _, p in _phases(r) if p.cpu is not None and p.cpu.other is not None]
    return max(values) if values else None


def _noise_warning(r: Results) -> list[str]:
    lines = []
    if r.meta.server_profiled:
        lines.append("WARNING: the app server ran under cProfile: HTTP figures are slowed")
    worst = other_load(r)
    if worst is None or worst < NOISE_CORES:
        return lines
    return [
        *lines,
        f"WARNING: processes outside the bench used up to {worst:.2f} of {r.meta.cores} cores "
        "during a measured phase (see 'other' below): figures are disturbed, rerun on a quiet box",
    ]


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _database_line(db: dict[str, Any]) -> str:
    orders = ", ".join(f"{v} {k}" for k, v in sorted(db["orders"].items()))
    verdicts = ", ".join(f"{v} {k}" for k, v in sorted(db["notify_verdicts"].items()))
    keys = ", ".join(f"{v} {k}" for k, v in sorted(db["card_keys"].items()))
    bad = db["delivered_without_exact_keys"]
    return (
        f"orders: {orders}; payments: {db['payments']}; notifies: {verdicts}; keys: {keys}; "
        f"delivered orders without exactly their keys: {bad}"
    )
