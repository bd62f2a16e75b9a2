"""The HTTP side: what a buyer and the epay gateway send to the shop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.cookiejar import CookieJar
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from benchlib.load import OpFailed
from benchlib.mini_http import MiniClient
from benchlib.setup import PRODUCT_NAME, SKU, AppServer, worker_of
from kameng.config import Settings
from kameng.payments.gateways import epay_sign

POLL_INTERVAL = 0.002
POLL_LIMIT = 500  # ~1 s of polling at most, then the sample counts as failed


@dataclass(frozen=True, slots=True)
class Order:
    order_no: str
    amount_cents: int
    token: str = ""


class _NoCookies(CookieJar):
    """Every order comes from a different buyer: never send the shop's cookie back."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


class Response(Protocol):
    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    def json(self) -> Any: ...


class HttpClient(Protocol):
    """What the bench needs of a client: httpx.AsyncClient, or MiniClient."""

    async def get(self, url: str, *, params: dict[str, str] | None = None) -> Response: ...
    async def post(self, url: str, *, json: Any = None) -> Response: ...
    async def aclose(self) -> None: ...


CLIENTS = ("httpx", "minimal")


def client(base_url: str, kind: str = "httpx") -> HttpClient:
    """One keep-alive HTTP/1.1 connection (one per worker, so C workers = C connections)."""
    if kind == "minimal":
        return MiniClient(base_url)
    return httpx.AsyncClient(
        base_url=base_url,
        http1=True,
        http2=False,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        timeout=httpx.Timeout(30.0),
        cookies=_NoCookies(),
        trust_env=False,
    )


def php_money(cents: int) -> str:
    """How epay prints ``money`` (a PHP float): 1000 -> '10', 150 -> '1.5'."""
    whole, frac = divmod(cents, 100)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac // 10}" if frac % 10 == 0 else f"{whole}.{frac:02d}"


def trade_no_for(order_no: str) -> str:
    return f"2026{order_no}"


def notify_query(settings: Settings, order: Order) -> str:
    """The notify query string exactly as the epay sandbox builds it (callback_fields):
    sorted non-empty fields, MD5 sign over raw values + merchant key, then sign_type."""
    fields = {
        "pid": settings.epay_pid,
        "trade_no": trade_no_for(order.order_no),
        "out_trade_no": order.order_no,
        "type": "alipay",
        "name": PRODUCT_NAME,
        "money": php_money(order.amount_cents),
        "trade_status": "TRADE_SUCCESS",
    }
    fields = {k: v for k, v in sorted(fields.items()) if v != ""}
    fields["sign"] = epay_sign.sign(fields, settings.epay_key)
    fields["sign_type"] = "MD5"
    return urlencode(fields)


async def create_order(http: HttpClient) -> Order:
    response = await http.post("/api/shop/orders", json={"product": SKU, "quantity": 1})
    if response.status_code != 201:
        raise OpFailed(f"create: HTTP {response.status_code} {response.text[:200]!r}")
    body = response.json()
    return Order(body["order_no"], int(body["amount_cents"]), body["token"])


async def notify(http: HttpClient, target: str) -> None:
    """GET /notify/epay?<signed query>; the shop must answer exactly ``success``."""
    response = await http.get(target)
    if response.status_code != 200 or response.text != "success":
        raise OpFailed(f"notify: HTTP {response.status_code} {response.text[:200]!r}")


def notify_target(settings: Settings, order: Order) -> str:
    return f"/notify/epay?{notify_query(settings, order)}"


@dataclass(frozen=True, slots=True)
class Visible:
    total: float  # notify sent -> GET shows the keys, seconds
    notify: float  # notify sent -> "success" received
    polls: int  # GETs needed (1 = keys were there at the first look)


async def notify_until_visible(http: HttpClient, item: tuple[Order, str]) -> Visible:
    order, target = item
    started = time.perf_counter()
    await notify(http, target)
    acked = time.perf_counter()
    path = f"/api/shop/orders/{order.order_no}"
    for poll in range(1, POLL_LIMIT + 1):
        response = await http.get(path, params={"token": order.token})
        if response.status_code != 200:
            raise OpFailed(f"order page: HTTP {response.status_code} {response.text[:200]!r}")
        if response.json().get("goods"):
            done = time.perf_counter()
            return Visible(total=done - started, notify=acked - started, polls=poll)
        await asyncio.sleep(POLL_INTERVAL)
    raise OpFailed(f"keys of {order.order_no} not visible after {POLL_LIMIT} polls")


SPREAD_ATTEMPTS = 200


async def spread(clients: Sequence[HttpClient], server: AppServer, workers: int) -> list[int]:
    """Open every client's connection so that each uvicorn worker holds its share.

    Left to the kernel, a burst of connections to a socket shared by idle workers
    goes mostly to one of them (16 of 16 were seen), and keep-alive connections
    stay where they landed: ``--workers 2`` would measure one worker. So each
    connection is opened, its owner read from /proc, and reopened until the owner
    has room. Returns the connections per worker. Minimal client only (httpx hides
    its socket): with httpx the kernel decides, and an empty list is returned.
    """
    if workers == 1 or not all(isinstance(c, MiniClient) for c in clients):
        return []
    quota = -(-len(clients) // workers)
    held: dict[int, int] = {}
    for c in clients:
        assert isinstance(c, MiniClient)
        for _ in range(SPREAD_ATTEMPTS):
            response = await c.get("/api/shop/products")
            if response.status_code != 200:
                raise OpFailed(f"products: HTTP {response.status_code}")
            port = c.local_port
            owner = None if port is None else await asyncio.to_thread(worker_of, server, port)
            if owner is not None and held.get(owner, 0) < quota:
                held[owner] = held.get(owner, 0) + 1
                break
            await c.aclose()
        else:
            raise RuntimeError(
                f"could not spread {len(clients)} connections over {workers} workers"
            )
    return sorted(held.values(), reverse=True)


async def close_all(clients: Sequence[HttpClient]) -> None:
    await asyncio.gather(*(c.aclose() for c in clients))
