"""Per-request log event and Prometheus metrics (``GET /metrics``).

One ``request`` event per HTTP request: method, route template (never the raw
URL: query strings may carry a query password or a signed notify), status,
duration, and the order number when the request concerns one (bound by the
handler or taken from the path).

Metrics are per process. With several web processes (``uvicorn --workers N``)
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory (wiped before start):
prometheus-client then keeps the values in files there and ``/metrics``
answers the sum over all processes. The database gauges (orders by status,
job lag) are read at scrape time and are the same whichever process answers.
"""

from __future__ import annotations

import os
import time
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import Scope

from kameng.db.connection import transaction
from kameng.db.queue import oldest_due_job_age
from kameng.orders.repository import count_by_status
from kameng.web.deps import runtime

log = structlog.get_logger("kameng.request")

REQUESTS = Histogram(
    "kameng_http_request_duration_seconds",
    "HTTP requests by method, route template and status, with their latency.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
NOTIFIES = Counter(
    "kameng_notifies_total", "Payment notifies received, by gateway and verdict.",
    ["gateway", "verdict"],
)  # fmt: skip

UNMATCHED = "unmatched"  # 404s of unknown paths: one label value, not one per URL
MAX_ORDER_NO = 40  # the path is buyer input: never log an unbounded string


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def start_request() -> float:
    """A new request: no context left from the previous one; its start time."""
    structlog.contextvars.clear_contextvars()
    return time.perf_counter()


def observe(scope: Scope, status: int, started: float) -> None:
    """The request's metric and its one log event (``kameng.web.middleware``)."""
    elapsed = time.perf_counter() - started
    route = _route(scope)
    REQUESTS.labels(scope["method"], route, str(status)).observe(elapsed)
    fields: dict[str, Any] = {}
    order_no = scope.get("path_params", {}).get("order_no")
    if isinstance(order_no, str) and "order_no" not in structlog.contextvars.get_contextvars():
        fields["order_no"] = order_no[:MAX_ORDER_NO]
    log.info(
        "request",
        method=scope["method"],
        route=route,
        status=status,
        duration_ms=round(elapsed * 1000, 2),
        **fields,
    )


router = APIRouter(include_in_schema=False)


class _Snapshot(Collector):
    """Gauges read from the database at scrape time (same for every process)."""

    def __init__(
        self, orders: dict[str, int], job_lag: float, channels: tuple[int | None, bool]
    ) -> None:
        self.orders, self.job_lag, self.channels = orders, job_lag, channels

    def collect(self) -> Any:
        orders = GaugeMetricFamily("kameng_orders", "Orders by status.", labels=["status"])
        for status, count in sorted(self.orders.items()):
            orders.add_metric([status], count)
        yield orders
        yield GaugeMetricFamily(
            "kameng_job_lag_seconds",
            "Age of the oldest job that is due and not started (0 when none).",
            value=self.job_lag,
        )
        version, listening = self.channels
        # These two are the answering process's own (not summed over processes).
        yield GaugeMetricFamily(
            "kameng_payment_channels_version",
            "Version of the payment channels this process serves (-1: none loaded yet).",
            value=-1 if version is None else version,
        )
        yield GaugeMetricFamily(
            "kameng_payment_channels_listening",
            "1 while this process follows channel changes by LISTEN/NOTIFY, "
            "0 while it reads the version on every request.",
            value=1 if listening else 0,
        )


def _process_registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return merged
    return REGISTRY


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    rt = runtime(request)
    async with transaction(rt.pool) as conn:
        orders = await count_by_status(conn)
        lag = await oldest_due_job_age(conn)
    snapshot = CollectorRegistry()
    channels = (rt.gateways.version, rt.gateways.listening)
    snapshot.register(_Snapshot(orders, lag, channels))
    body = generate_latest(_process_registry()) + generate_latest(snapshot)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
