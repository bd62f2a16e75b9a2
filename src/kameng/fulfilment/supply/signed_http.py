"""The generic signed-HTTP supplier adapter (直充/卡密 upstream APIs).

Wire shape, modelled on the "rechargev2" family and 聚合数据 (see
docs in README, "Suppliers"): form POSTs to ``/api/order``, ``/api/query``,
``/api/balance``; every request and callback carries ``merchant_id``,
``timestamp`` and ``sign`` = upper-case MD5 of the ASCII-sorted non-empty
fields as ``k=v&…`` followed by ``&key=SECRET``. Our order number is
``out_order_no``, the idempotency key: placing it twice returns the first
order. Answers are JSON ``{code, msg, status, order_no, voucher, cards, price}``;
``code`` 0 means the request was understood.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from kameng.fulfilment.supply.protocol import (
    Card,
    Outcome,
    PlaceRequest,
    SupplierAnswer,
    SupplierEndpoint,
)
from kameng.kit.money import MoneyFormatError, format_yuan, parse_yuan

# Supplier error codes that mean "not taken, nothing bought" (safe to ask again later).
CODE_MAINTENANCE = 1001
CODE_NO_BALANCE = 1002
CODE_PRICE = 1003
_REFUSALS = {CODE_MAINTENANCE: "maintenance", CODE_NO_BALANCE: "balance", CODE_PRICE: "price"}
_STATUSES = {
    "processing": Outcome.PROCESSING,
    "success": Outcome.SUCCEEDED,
    "failed": Outcome.FAILED,
    "not_found": Outcome.NOT_FOUND,
}


def sign(params: dict[str, str], secret: str) -> str:
    text = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    return hashlib.md5(f"{text}&key={secret}".encode()).hexdigest().upper()


def signed(params: dict[str, str], secret: str) -> dict[str, str]:
    return {**params, "sign": sign(params, secret)}


def check_sign(params: dict[str, str], secret: str) -> bool:
    given = params.get("sign", "")
    return bool(given) and hmac.compare_digest(given.upper(), sign(params, secret))


def yuan(cents: int) -> str:
    return format_yuan(cents)


def cents_of(value: Any) -> int | None:
    try:
        return parse_yuan(str(value))
    except MoneyFormatError:
        return None


class SignedHttpAdapter:
    def __init__(self, *, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None):
        self.timeout = timeout
        self.transport = transport
        # One client per adapter, made on first use: a new client per call costs
        # an SSL context (~10 ms of CPU) and a new connection each time.
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, transport=self.transport)
        return self._client

    async def place(self, endpoint: SupplierEndpoint, request: PlaceRequest) -> SupplierAnswer:
        params = {
            "merchant_id": endpoint.merchant_id,
            "out_order_no": request.request_no,
            "product": request.supplier_sku,
            "type": request.kind,
            "quantity": str(request.quantity),
            "account": json.dumps(request.account, ensure_ascii=False, sort_keys=True)
            if request.account
            else "",
            "max_price": yuan(request.max_price_cents),
            "notify_url": request.notify_url,
            "timestamp": str(int(time.time())),
        }
        return await self._call(endpoint, "/api/order", params)

    async def query(self, endpoint: SupplierEndpoint, request_no: str) -> SupplierAnswer:
        params = {
            "merchant_id": endpoint.merchant_id,
            "out_order_no": request_no,
            "timestamp": str(int(time.time())),
        }
        return await self._call(endpoint, "/api/query", params)

    async def balance(self, endpoint: SupplierEndpoint) -> int | None:
        params = {"merchant_id": endpoint.merchant_id, "timestamp": str(int(time.time()))}
        answer = await self._call(endpoint, "/api/balance", params)
        return cents_of(answer.extra.get("balance")) if answer.outcome != Outcome.UNKNOWN else None

    def verify_callback(
        self, endpoint: SupplierEndpoint, params: dict[str, str]
    ) -> SupplierAnswer | None:
        if params.get("merchant_id") != endpoint.merchant_id or not check_sign(
            params, endpoint.secret
        ):
            return None
        return _answer(dict(params), latency_ms=0)

    async def _call(
        self, endpoint: SupplierEndpoint, path: str, params: dict[str, str]
    ) -> SupplierAnswer:
        started = time.perf_counter()
        try:
            response = await self._http().post(
                endpoint.base_url.rstrip("/") + path, data=signed(params, endpoint.secret)
            )
        except httpx.HTTPError as exc:
            return _unknown(
                "timeout" if isinstance(exc, httpx.TimeoutException) else "network",
                type(exc).__name__,
                started,
            )
        if response.status_code >= 500:
            return _unknown("http_error", f"HTTP {response.status_code}", started)
        try:
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return _unknown("garbage", response.text[:200], started)
        return _answer(body, latency_ms=_ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _unknown(reason: str, message: str, started: float) -> SupplierAnswer:
    return SupplierAnswer(Outcome.UNKNOWN, reason=reason, message=message, latency_ms=_ms(started))


def _answer(body: dict[str, Any], *, latency_ms: int) -> SupplierAnswer:
    try:
        code = int(body.get("code", 0))
    except (TypeError, ValueError):
        code = -1
    message = str(body.get("msg") or body.get("message") or "")[:500]
    if code in _REFUSALS:
        return SupplierAnswer(
            Outcome.REFUSED,
            reason=_REFUSALS[code],
            message=message,
            retry_after=_time(body.get("back_at")),
            price_cents=cents_of(body.get("price")) if body.get("price") is not None else None,
            latency_ms=latency_ms,
        )
    outcome = _STATUSES.get(str(body.get("status", ""))) if code == 0 else None
    if outcome is None:
        # A code we do not know, or no status: we cannot tell what happened.
        return SupplierAnswer(
            Outcome.UNKNOWN,
            reason="garbage",
            message=message or str(body)[:200],
            latency_ms=latency_ms,
        )
    return SupplierAnswer(
        outcome,
        supplier_order_no=str(body["order_no"]) if body.get("order_no") else None,
        message=message,
        voucher=str(body["voucher"]) if body.get("voucher") else None,
        cards=_cards(body.get("cards")),
        price_cents=cents_of(body.get("price")) if body.get("price") is not None else None,
        latency_ms=latency_ms,
        extra={k: body[k] for k in ("balance",) if k in body},
    )


def _cards(value: Any) -> tuple[Card, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value else []
        except ValueError:
            return ()
    if not isinstance(value, list):
        return ()
    return tuple(
        Card(str(c["number"]), str(c.get("password", "")))
        for c in value
        if isinstance(c, dict) and c.get("number")
    )


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
