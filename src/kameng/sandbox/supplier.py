"""A supplier sandbox (上游直充/卡密 supplier), as an ASGI app.

Wire endpoints (form POSTs, MD5-signed, see ``supplier_store.md5_sign``):
``/api/order`` (place; ``out_order_no`` is idempotent), ``/api/query``,
``/api/balance``; callbacks are form POSTs to the order's ``notify_url``,
re-sent at 0, 5, 30, 120, 600 s (× time scale) until the body is ``success``.

Test and demo helpers: ``POST /sandbox/behaviour`` (JSON ``{product | order,
behaviour, seconds, price}``; see ``supplier_store.BEHAVIOURS``),
``GET /sandbox/orders`` (every order received and how many times each of our
order numbers was placed), ``DELETE /sandbox/behaviour``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from kameng.sandbox.supplier_store import (
    BEHAVIOURS,
    Behaviour,
    SupplierOrder,
    SupplierStore,
    md5_sign,
)

CALLBACK_OFFSETS = (0.0, 5.0, 30.0, 120.0, 600.0)
TIMEOUT_DEFAULT = 30.0
PROCESSING_LONG_DEFAULT = 300.0
MAINTENANCE_DEFAULT = 600.0


def _ok(**body: Any) -> JSONResponse:
    return JSONResponse({"code": 0, "msg": "ok", **body})


def _error(code: int, msg: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg, **extra})


class SupplierSandbox:
    def __init__(self, store: SupplierStore, time_scale: float) -> None:
        self.store = store
        self.scale = time_scale
        self.tasks: set[asyncio.Task[None]] = set()
        self.client = httpx.AsyncClient(timeout=5.0)

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()

    def resume(self) -> None:
        """After a restart: callbacks not yet acknowledged go out again."""
        for order in self.store.orders.values():
            if not order.callback_acked and order.behaviour not in ("lose_callback",):
                self.spawn(self.deliver(order))

    def verified(self, form: dict[str, str]) -> str | None:
        """The merchant id when the request is signed by a known merchant."""
        merchant = form.get("merchant_id", "")
        key = self.store.merchants.get(merchant)
        if key is None or form.get("sign", "").upper() != md5_sign(form, key):
            return None
        return merchant

    def answer(self, order: SupplierOrder) -> dict[str, Any]:
        now = time.time()
        status = order.status(now)
        body: dict[str, Any] = {
            "status": status,
            "order_no": order.order_no,
            "out_order_no": order.out_order_no,
            "price": order.price,
        }
        if status == "success":
            body["voucher"] = order.voucher
            body["cards"] = order.cards
        if status == "failed":
            body["msg"] = "充值失败：账号不存在"
        return body

    def place(self, merchant: str, form: dict[str, str]) -> tuple[SupplierOrder | None, Response]:
        out_no = form.get("out_order_no", "")
        product = form.get("product", "")
        self.store.placed[out_no] = self.store.placed.get(out_no, 0) + 1
        existing = self.store.orders.get(self.store.key(merchant, out_no))
        if existing is not None:  # idempotent: the first order, as it is now
            self.store.save()
            return None, _ok(**self.answer(existing))
        rule = self.store.behaviour_for(product, out_no)
        now = time.time()
        if rule.behaviour == "maintenance":
            self.store.save()
            back = now + (rule.seconds or MAINTENANCE_DEFAULT) * self.scale
            return None, _error(1001, "系统维护中", back_at=int(back))
        if rule.behaviour == "no_balance":
            self.store.save()
            return None, _error(1002, "余额不足")
        price = _price(rule, form)
        if price is None:
            self.store.save()
            return None, _error(1003, "价格已变动", price=rule.price)
        delay = {
            "succeed_after": rule.seconds,
            "processing_long": rule.seconds or PROCESSING_LONG_DEFAULT,
            "timeout": rule.seconds or 1.0,
        }.get(rule.behaviour, 0.0)
        quantity = max(1, min(100, int(form.get("quantity") or 1)))
        order = SupplierOrder(
            merchant=merchant,
            out_order_no=out_no,
            order_no=self.store.new_order_no(),
            product=product,
            type=form.get("type", "topup"),
            quantity=quantity,
            account=form.get("account", ""),
            notify_url=form.get("notify_url", ""),
            behaviour=rule.behaviour,
            created_at=now,
            finish_at=now + delay * self.scale,
            final_status="failed" if rule.behaviour == "fail" else "success",
            price=price,
        )
        if order.final_status == "success":
            order.voucher = "V" + secrets.token_hex(6).upper()
            if order.type == "card":
                order.cards = [
                    {
                        "number": "UC" + secrets.token_hex(6).upper(),
                        "password": secrets.token_hex(4).upper(),
                    }
                    for _ in range(quantity)
                ]
        self.store.orders[self.store.key(merchant, out_no)] = order
        self.store.save()
        if rule.behaviour != "lose_callback":
            self.spawn(self.deliver(order))
        return order, _ok(**self.answer(order))

    async def deliver(self, order: SupplierOrder) -> None:
        """The callback, once the order is final, until acknowledged."""
        # A margin: asyncio's clock may wake a hair before time.time() says it is final.
        wait = order.finish_at - time.time()
        if wait > 0:
            await asyncio.sleep(wait + 0.01)
        started = asyncio.get_running_loop().time()
        for offset in CALLBACK_OFFSETS[min(order.callbacks_sent, len(CALLBACK_OFFSETS) - 1) :]:
            delay = started + offset * self.scale - asyncio.get_running_loop().time()
            if delay > 0:
                await asyncio.sleep(delay)
            if await self._send(order):
                order.callback_acked = True
                self.store.save()
                return

    async def _send(self, order: SupplierOrder) -> bool:
        if not order.notify_url:
            return True
        body = self.answer(order)
        fields = {
            "merchant_id": order.merchant,
            "out_order_no": order.out_order_no,
            "order_no": order.order_no,
            "status": body["status"],
            "voucher": body.get("voucher", ""),
            "cards": json.dumps(body.get("cards", []), ensure_ascii=False)
            if body.get("cards")
            else "",
            "price": order.price,
            "msg": body.get("msg", ""),
            "timestamp": str(int(time.time())),
            "nonce": secrets.token_hex(8),
        }
        key = self.store.merchants[order.merchant]
        if order.behaviour == "bad_callback":
            key = "not-the-" + key
        fields["sign"] = md5_sign(fields, key)
        order.callbacks_sent += 1
        self.store.save()
        try:
            response = await self.client.post(order.notify_url, data=fields)
        except httpx.HTTPError:
            return False
        return response.text.strip().lower() == "success"


def _price(rule: Behaviour, form: dict[str, str]) -> str | None:
    """The price charged, or None when it is above what the merchant allows."""
    try:
        allowed = Decimal(form.get("max_price") or "0")
        asked = Decimal(rule.price) if rule.price else allowed
    except InvalidOperation:
        return None
    if rule.behaviour == "price" and asked > allowed:
        return None
    return f"{asked:.2f}"


def create_app(store: SupplierStore, *, time_scale: float = 1.0) -> FastAPI:
    sandbox = SupplierSandbox(store, time_scale)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sandbox.resume()
        yield
        await sandbox.aclose()

    app = FastAPI(title="kameng supplier sandbox", lifespan=lifespan)
    app.state.supplier = sandbox

    async def form_of(request: Request) -> dict[str, str]:
        form = await request.form()
        return {k: str(v) for k, v in form.items()}

    @app.get("/")
    async def index() -> dict[str, Any]:
        return {
            "sandbox": "supplier",
            "merchants": sorted(store.merchants),
            "behaviours": list(BEHAVIOURS),
            "orders": "/sandbox/orders",
        }

    @app.post("/api/order")
    async def place(request: Request) -> Response:
        form = await form_of(request)
        merchant = sandbox.verified(form)
        if merchant is None:
            return _error(1004, "签名错误")
        if not form.get("out_order_no") or not form.get("product"):
            return _error(1005, "参数错误")
        order, response = sandbox.place(merchant, form)
        if order is None:
            return response
        if order.behaviour == "timeout":
            await asyncio.sleep(
                (store.behaviour_for(order.product, order.out_order_no).seconds or TIMEOUT_DEFAULT)
                * time_scale
                + 1.0
            )
        if order.behaviour == "garbage":
            return PlainTextResponse("<html><body>502 Bad Gateway</body></html>")
        return response

    @app.post("/api/query")
    async def query(request: Request) -> Response:
        form = await form_of(request)
        merchant = sandbox.verified(form)
        if merchant is None:
            return _error(1004, "签名错误")
        order = store.orders.get(store.key(merchant, form.get("out_order_no", "")))
        if order is None:
            return _ok(status="not_found", out_order_no=form.get("out_order_no", ""))
        return _ok(**sandbox.answer(order))

    @app.post("/api/balance")
    async def balance(request: Request) -> Response:
        form = await form_of(request)
        merchant = sandbox.verified(form)
        if merchant is None:
            return _error(1004, "签名错误")
        return _ok(status="success", balance=_yuan(store.balance[merchant]))

    @app.get("/sandbox/orders")
    async def orders() -> dict[str, Any]:
        return store.snapshot(time.time())

    @app.post("/sandbox/behaviour")
    async def set_behaviour(request: Request) -> Response:
        try:
            body = await request.json()
            delay = _duration(body.get("seconds"))
            rule = Behaviour(behaviour=str(body["behaviour"]), seconds=delay)
            if body.get("price") is not None:
                rule.price = str(body["price"])
            target = f"order:{body['order']}" if body.get("order") else f"product:{body['product']}"
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "give {product|order, behaviour}"}, status_code=400)
        if rule.behaviour not in BEHAVIOURS:
            return JSONResponse({"error": f"behaviours: {', '.join(BEHAVIOURS)}"}, status_code=400)
        store.behaviours[target] = rule
        store.save()
        return JSONResponse({"set": target, "behaviour": rule.behaviour})

    @app.delete("/sandbox/behaviour")
    async def clear_behaviours() -> dict[str, str]:
        store.behaviours.clear()
        store.save()
        return {"cleared": "all"}

    return app


def _yuan(cents: int) -> str:
    whole, frac = divmod(cents, 100)
    return f"{whole}.{frac:02d}"


def _duration(value: object) -> float:
    """Seconds, as given in a behaviour (a number or a numeric string)."""
    return float(str(value or 0))
