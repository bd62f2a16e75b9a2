"""A protocol-accurate sandbox twin of 彩虹易支付 (Rainbow Epay) V1, as an ASGI app.

Wire endpoints, as the real gateway serves them:

* ``/submit.php`` (GET/POST): browser checkout; renders the cashier page.
* ``/mapi.php`` (GET/POST): server-side create; JSON with ``trade_no`` and ``payurl``.
* ``/cashier.php?trade_no=``: the cashier page for an existing unpaid trade.
* ``POST /pay/{trade_no}``: the cashier's 确认支付 button; marks the trade paid,
  starts the async notify (GET to notify_url, retried at +1, +3, +19, +55
  minutes until the body contains "success") and 302s to the signed return_url.
* ``/api.php?act=order`` / ``act=orders``: order query with the plaintext key.
* ``POST /api.php?act=refund`` (``pid``, ``key``, ``trade_no`` or
  ``out_trade_no``, ``money``): a refund, partial or full; not idempotent.

Sandbox-only helpers live under ``/sandbox/`` (inspect a trade and its notify
attempts, re-send a notify, pay by script) and ``/`` lists recent trades.

State is in ``app.state.epay`` and, given a ``state_file``, on disk (a
restarted sandbox still knows its trades and resumes pending notifies).
Every delay of the notify schedule is multiplied by ``time_scale`` so tests
can run the whole schedule in a blink.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kameng.kit import clock as kit_clock
from kameng.sandbox import epay_pages as pages
from kameng.sandbox.epay_store import (
    REFUND_OUTCOMES,
    STATUS_PAID,
    EpayStore,
    Notifier,
    Rejected,
    Trade,
    parse_create,
    php_intval,
)
from kameng.sandbox.persist import JsonFile
from kameng.sandbox.trade_routes import sandbox_app

ORDERS_MAX_LIMIT = 50


@dataclass
class EpaySandbox:
    """Everything the app holds: the trades and the notify machinery."""

    store: EpayStore
    notifier: Notifier

    async def aclose(self) -> None:
        """Cancel pending notify tasks and close the HTTP client (also run at shutdown)."""
        await self.notifier.aclose()


def _error_page(msg: str, status_code: int = 400) -> HTMLResponse:
    return HTMLResponse(pages.error(msg), status_code=status_code)


def _json(payload: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status_code)


async def _form(request: Request) -> dict[str, str]:
    """A POST body's text fields (last value wins, like PHP); never raises."""
    if request.method != "POST":
        return {}
    try:
        form = await request.form()
    except Exception:  # malformed multipart and friends: treat as no fields
        return {}
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


async def _params(request: Request) -> dict[str, str]:
    """epay reads ``$_GET`` when it carries a pid, otherwise ``$_POST``."""
    query = dict(request.query_params)
    if "pid" in query:
        return query
    form = await _form(request)
    return form if "pid" in form else query


def create_app(
    *,
    merchants: dict[str, str],
    time_scale: float = 1.0,
    http_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
    state_file: JsonFile | None = None,
) -> FastAPI:
    """The epay sandbox. ``merchants`` maps pid -> MD5 key."""
    store = EpayStore(
        merchants=dict(merchants),
        clock=clock or kit_clock.now,
        file=state_file or JsonFile(None),
    )
    notifier = Notifier(store, time_scale, http_transport)
    sandbox = EpaySandbox(store=store, notifier=notifier)

    app = sandbox_app("彩虹易支付 沙箱", notifier.resume, sandbox.aclose)
    app.state.epay = sandbox

    def pay(trade: Trade, pay_type: str) -> bool:
        """Mark paid and start notifying; False when it was already paid. May raise Rejected."""
        paid_now = store.mark_paid(trade, pay_type)
        if paid_now:
            notifier.start(trade)
        return paid_now

    def cashier_or_error(trade: Trade, base: str) -> HTMLResponse:
        if trade.status != 0:
            return _error_page(f"该订单({trade.out_trade_no})已完成支付，请勿重复发起支付")
        return HTMLResponse(pages.cashier(trade, f"{base}pay/{trade.trade_no}"))

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(pages.index(store.recent()[:50], str(request.base_url)))

    @app.api_route("/submit.php", methods=["GET", "POST"])
    async def submit(request: Request) -> Response:
        params = await _params(request)
        if "pid" not in params:
            return _error_page("你还未配置支付接口商户！")
        base = str(request.base_url)
        try:
            trade = store.create_or_reuse(parse_create(params, merchants, api=False), base)
        except Rejected as exc:
            return _error_page(exc.msg)
        return cashier_or_error(trade, base)

    @app.api_route("/mapi.php", methods=["GET", "POST"])
    async def mapi(request: Request) -> JSONResponse:
        params = await _params(request)
        if "pid" not in params:
            return _json({"code": -4, "msg": "未传入任何参数"})
        try:
            req = parse_create(params, merchants, api=True)
            trade = store.create_or_reuse(req, str(request.base_url))
        except Rejected as exc:
            return _json({"code": exc.code, "msg": exc.msg})
        return _json({"code": 1, "msg": "succ", "trade_no": trade.trade_no, "payurl": trade.payurl})

    @app.get("/cashier.php")
    async def cashier_page(request: Request) -> HTMLResponse:
        trade = store.get(request.query_params.get("trade_no", ""))
        if trade is None:
            return _error_page("该订单号不存在，请返回来源地重新发起请求！", 404)
        return cashier_or_error(trade, str(request.base_url))

    @app.post("/pay/{trade_no}")
    async def pay_button(trade_no: str, request: Request) -> Response:
        trade = store.get(trade_no)
        if trade is None:
            return _error_page("该订单号不存在，请返回来源地重新发起请求！", 404)
        form = await _form(request)
        try:
            pay(trade, form.get("type", ""))
        except Rejected as exc:
            return _error_page(exc.msg)
        if trade.return_url:
            return RedirectResponse(store.callback_url(trade, trade.return_url), status_code=302)
        return HTMLResponse(pages.paid(trade))

    @app.get("/api.php")
    async def api(request: Request) -> JSONResponse:
        query = dict(request.query_params)
        act = query.get("act", "")
        if act not in ("order", "orders"):
            return _json({"code": -5, "msg": "No Act!"})
        pid = query.get("pid", "")
        if not store.key_matches(pid, query.get("key", "")):
            return _json({"code": -1, "msg": "KEY校验失败"})
        if act == "order":
            return _json(api_order(pid, query))
        return _json(api_orders(pid, query))

    @app.post("/api.php")
    async def api_post(request: Request) -> Response:
        act = request.query_params.get("act", "") or (await _form(request)).get("act", "")
        params = await _params(request)
        if act != "refund":
            return _json({"code": -5, "msg": "No Act!"})
        pid = params.get("pid", "")
        if not store.key_matches(pid, params.get("key", "")):
            return _json({"code": -1, "msg": "KEY校验失败"})
        found = api_order(pid, params)
        trade = store.get(str(found.get("trade_no", ""))) if found.get("code") == 1 else None
        if trade is None:
            return _json(found)
        answer = store.refund(trade, params.get("money", ""))
        if answer.get("code") == 1 and trade.refund_outcome == "refund_late":
            # refund_late: refunded, but the answer never reaches the merchant.
            return HTMLResponse("<html><body><h1>504 Gateway Time-out</h1></body></html>", 504)
        return _json(answer)

    def api_order(pid: str, query: dict[str, str]) -> dict[str, Any]:
        trade_no, out_trade_no = query.get("trade_no", ""), query.get("out_trade_no", "")
        if trade_no:
            trade = store.get(trade_no)
        elif out_trade_no:
            trade = store.get_by_out(pid, out_trade_no)
        else:
            return {"code": -4, "msg": "订单号不能为空"}
        if trade is None or trade.pid != pid:
            return {"code": -1, "msg": "订单号不存在"}
        return {"code": 1, "msg": "succ", **trade.order_json(), "payurl": trade.payurl}

    def api_orders(pid: str, query: dict[str, str]) -> dict[str, Any]:
        limit = php_intval(query["limit"]) if query.get("limit") else 10
        limit = max(0, min(ORDERS_MAX_LIMIT, limit))
        if query.get("offset"):
            offset = max(0, php_intval(query["offset"]))
        else:
            offset = (max(1, php_intval(query.get("page", "1"))) - 1) * limit
        trades = store.recent(pid)
        if "status" in query:
            wanted = php_intval(query["status"])
            trades = [t for t in trades if t.status == wanted]
        data = [t.order_json() for t in trades[offset : offset + limit]]
        return {"code": 1, "msg": "查询订单记录成功！", "count": len(data), "data": data}

    def not_found() -> JSONResponse:
        return _json({"code": -1, "msg": "订单号不存在"}, 404)

    @app.get("/sandbox/trades/{trade_no}")
    async def sandbox_trade(trade_no: str) -> JSONResponse:
        trade = store.get(trade_no)
        if trade is None:
            return not_found()
        return _json({"code": 1, "msg": "succ", **trade.sandbox_json()})

    @app.post("/sandbox/trades/{trade_no}/renotify")
    async def sandbox_renotify(trade_no: str) -> JSONResponse:
        trade = store.get(trade_no)
        if trade is None:
            return not_found()
        if trade.status != STATUS_PAID:
            return _json({"code": -1, "msg": "订单尚未支付，无法发送通知"}, 409)
        acked = await notifier.attempt(trade)
        return _json(
            {
                "code": 1,
                "msg": "通知成功" if acked else "通知失败",
                "acked": acked,
                "notify": trade.notify,
                "attempt": trade.attempts[-1].as_json(),
            }
        )

    @app.post("/sandbox/trades/{trade_no}/refund-outcome")
    async def sandbox_refund_outcome(trade_no: str, request: Request) -> JSONResponse:
        """What the trade's next refunds do: refund_succeeds / refund_late / refund_fails."""
        trade = store.get(trade_no)
        if trade is None:
            return not_found()
        outcome = (await _form(request)).get("outcome") or request.query_params.get("outcome", "")
        if outcome not in REFUND_OUTCOMES:
            return _json({"code": -1, "msg": f"outcome: {sorted(REFUND_OUTCOMES)}"}, 422)
        trade.refund_outcome = outcome
        store.save()
        return _json({"code": 1, "msg": "succ", **trade.sandbox_json()})

    @app.post("/sandbox/trades/{trade_no}/pay")
    async def sandbox_pay(trade_no: str, request: Request) -> JSONResponse:
        trade = store.get(trade_no)
        if trade is None:
            return not_found()
        form = await _form(request)
        try:
            paid_now = pay(trade, form.get("type") or request.query_params.get("type", ""))
        except Rejected as exc:
            return _json({"code": -1, "msg": exc.msg}, 400)
        return _json(
            {
                "code": 1,
                "msg": "支付成功" if paid_now else "订单已支付",
                "paid_now": paid_now,
                "trade_no": trade.trade_no,
                "status": trade.status,
                "return_url": (
                    store.callback_url(trade, trade.return_url) if trade.return_url else ""
                ),
            }
        )

    return app
