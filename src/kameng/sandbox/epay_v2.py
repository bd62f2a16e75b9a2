"""A protocol twin of 易支付 V2 (RSA), as an ASGI app.

* ``/api/pay/submit`` (GET/POST): browser checkout, signed by the merchant's
  RSA key with a fresh ``timestamp``; shows the cashier.
* ``/api/pay/create``, ``/api/pay/query``, ``/api/pay/refund``,
  ``/api/merchant/orders`` (POST form):
  JSON with ``code=0`` on success, signed with the platform key
  (``timestamp``, ``sign``, ``sign_type=RSA``). Refunds are idempotent by
  ``out_refund_no``.
* Paying sends the notify as a GET to ``notify_url`` (re-signed with a fresh
  timestamp on each attempt) at 0, +1, +3, +19, +55 min until the body
  contains ``success``.
* ``/sandbox/...``: pay by script with an outcome, inspect, re-send.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from html import escape
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kameng.kit import clock as kit_clock
from kameng.kit.money import format_yuan
from kameng.sandbox.epay_v2_store import (
    ACK_MARKERS,
    NOTIFY_OFFSETS_MINUTES,
    REFUND_OUTCOMES,
    EpayV2Store,
    Refused,
    Trade,
)
from kameng.sandbox.persist import JsonFile
from kameng.sandbox.retry import Retrier
from kameng.sandbox.trade_flow import TradeFlow, outcome_options, request_fields
from kameng.sandbox.trade_routes import add_inspection_routes, flow_app, page, with_query


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return page(title, body, money_color="#e4393c", status=status)


def _cashier(trade: Trade) -> HTMLResponse:
    options = outcome_options(REFUND_OUTCOMES)
    return _page(
        "收银台",
        "<h1>收银台（易支付 V2 沙箱）</h1>"
        f'<p class="money">￥{format_yuan(trade.cents)}</p>'
        f"<p>{escape(trade.name)}</p><p>商户订单号 {escape(trade.out_trade_no)}<br>"
        f"平台订单号 {escape(trade.trade_no)}</p>"
        f'<form method="post" action="/sandbox/pay/{escape(trade.trade_no)}">{options}'
        '<button type="submit">确认支付</button></form>',
    )


def create_app(
    *,
    merchants: Mapping[str, str],
    platform_private_pem: str,
    time_scale: float = 1.0,
    state_file: JsonFile | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """``merchants`` maps pid -> the merchant's RSA public key (PEM)."""
    store = EpayV2Store(
        merchants=merchants,
        platform_private_pem=platform_private_pem,
        clock=clock or kit_clock.now,
        file=state_file or JsonFile(None),
    )
    flow = TradeFlow(
        "epay-v2",
        store,
        Retrier(NOTIFY_OFFSETS_MINUTES, time_scale),
        httpx.AsyncClient(transport=http_transport, timeout=10),
        notify_request=lambda client, trade: client.build_request(
            "GET", with_query(trade.notify_url, store.notify_fields(trade))
        ),
        acknowledges=lambda body: any(marker in body for marker in ACK_MARKERS),
        unpaid=lambda trade: trade.status == 0,
        refund_task=lambda trade, refund: f"epay-v2-refund-{refund.refund_no}",
    )
    pay, finish_later = flow.pay, flow.finish_later
    app = flow_app("易支付 V2 沙箱", flow)
    app.state.epay_v2 = store

    def signed(fields: dict[str, Any]) -> JSONResponse:
        return JSONResponse(store.sign(fields))

    def client_ip(request: Request) -> str:
        return request.client.host if request.client else ""

    @app.api_route("/api/pay/submit", methods=["GET", "POST"])
    async def submit(request: Request) -> Response:
        fields = await request_fields(request)
        try:
            pid = store.check_request(fields)
            trade = store.create_or_reuse(pid, fields, client_ip(request))
        except Refused as exc:
            return _page("站点提示信息", f"<h1>站点提示信息</h1><p>{escape(exc.msg)}</p>", 400)
        if trade.status != 0:
            return _page("站点提示信息", "<p>该订单已完成支付，请勿重复发起支付</p>", 400)
        return _cashier(trade)

    @app.post("/api/pay/create")
    async def create(request: Request) -> JSONResponse:
        fields = await request_fields(request)
        try:
            pid = store.check_request(fields)
            trade = store.create_or_reuse(pid, fields, client_ip(request))
        except Refused as exc:
            return JSONResponse({"code": exc.code, "msg": exc.msg})
        pay_info = f"{request.base_url}sandbox/cashier/{trade.trade_no}"
        return signed(
            {
                "code": 0,
                "msg": "succ",
                "trade_no": trade.trade_no,
                "pay_type": "jump",
                "pay_info": pay_info,
            }
        )

    @app.post("/api/pay/query")
    async def query(request: Request) -> JSONResponse:
        fields = await request_fields(request)
        try:
            trade = store.find(store.check_request(fields), fields)
        except Refused as exc:
            return JSONResponse({"code": exc.code, "msg": exc.msg})
        return signed({"code": 0, "msg": "succ", **trade.order_json()})

    @app.post("/api/pay/refund")
    async def refund(request: Request) -> Response:
        fields = await request_fields(request)
        try:
            trade = store.find(store.check_request(fields), fields)
            before = len(trade.refunds)
            done = store.refund(trade, fields)
        except Refused as exc:
            return JSONResponse({"code": exc.code, "msg": exc.msg})
        if done.processing:
            if len(trade.refunds) > before:
                finish_later(trade, done)
            # refund_late: the refund goes on, the merchant's answer is lost.
            return HTMLResponse("<html><body><h1>504 Gateway Time-out</h1></body></html>", 504)
        return signed(
            {
                "code": 0,
                "msg": "退款成功",
                "refund_no": done.refund_no,
                "out_refund_no": done.out_refund_no,
                "trade_no": trade.trade_no,
                "money": format_yuan(done.cents),
                "reducemoney": format_yuan(done.cents),
            }
        )

    @app.post("/api/pay/refundquery")
    async def refund_query(request: Request) -> JSONResponse:
        fields = await request_fields(request)
        try:
            trade, done = store.find_refund(store.check_request(fields), fields)
        except Refused as exc:
            return JSONResponse({"code": exc.code, "msg": exc.msg})
        if done.processing:
            return JSONResponse({"code": -1, "msg": "退款处理中，请稍后查询"})
        return signed(
            {
                "code": 0,
                "msg": "succ",
                "refund_no": done.refund_no,
                "out_refund_no": done.out_refund_no,
                "trade_no": trade.trade_no,
                "out_trade_no": trade.out_trade_no,
                "money": format_yuan(done.cents),
                "reducemoney": format_yuan(done.cents),
                "status": 1,
                "addtime": done.addtime,
            }
        )

    @app.post("/api/merchant/orders")
    async def merchant_orders(request: Request) -> JSONResponse:
        """The order list for 对账: newest first, ``limit`` at most 50 from
        ``offset``, optional ``status`` (0 unpaid, 1 paid). ``data`` is an array,
        so the platform's signature does not cover it (V2 signs scalars only)."""
        fields = await request_fields(request)
        try:
            pid = store.check_request(fields)
            offset, limit = int(fields.get("offset", "")), int(fields.get("limit", ""))
        except Refused as exc:
            return JSONResponse({"code": exc.code, "msg": exc.msg})
        except ValueError:
            return JSONResponse({"code": -1, "msg": "offset和limit必须为整数"})
        if offset < 0 or not 1 <= limit <= 50:
            return JSONResponse({"code": -1, "msg": "limit最大不能超过50"})
        mine = [t for t in reversed(store.trades.values()) if t.pid == pid]
        if fields.get("status") in ("0", "1"):
            mine = [t for t in mine if t.status == int(fields["status"])]
        page = [t.order_json() for t in mine[offset : offset + limit]]
        return signed({"code": 0, "msg": "succ", "data": page})

    @app.get("/sandbox/cashier/{trade_no}")
    async def cashier(trade_no: str) -> Response:
        trade = store.get(trade_no)
        if trade is None or trade.status != 0:
            return _page("站点提示信息", "<p>订单不存在或已支付</p>", 404)
        return _cashier(trade)

    @app.post("/sandbox/pay/{trade_no}")
    async def cashier_pay(trade_no: str, request: Request) -> Response:
        trade = store.get(trade_no)
        if trade is None:
            return _page("站点提示信息", "<p>该订单号不存在</p>", 404)
        fields = await request_fields(request)
        if fields.get("refund_outcome") in REFUND_OUTCOMES:
            trade.refund_outcome = fields["refund_outcome"]
        if not await pay(trade, fields.get("outcome", "notify")):
            return _page("站点提示信息", "<p>该订单已完成支付，请勿重复发起支付</p>", 400)
        if trade.return_url and trade.status == 1:
            url = with_query(trade.return_url, store.notify_fields(trade))
            return RedirectResponse(url, status_code=302)
        return _page("支付", f"<h1>{'支付成功' if trade.status else '稍后支付'}</h1>")

    def lookup(key: str) -> Trade | None:
        found = store.get(key)
        if found is None:
            matches = [t for t in store.trades.values() if t.out_trade_no == key]
            found = matches[0] if len(matches) == 1 else None
        return found

    add_inspection_routes(
        app,
        flow,
        find=lookup,
        describe=Trade.order_json,
        refund_outcomes=REFUND_OUTCOMES,
        missing={"code": -1, "msg": "订单号不存在"},
        not_paid={"code": -1, "msg": "订单尚未支付"},
        bad_outcome=lambda names: {"code": -1, "msg": f"outcome: one of {names}"},
    )

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        rows = "".join(
            f"<tr><td>{escape(t.trade_no)}</td><td>{escape(t.out_trade_no)}</td>"
            f"<td>{format_yuan(t.cents)}</td><td>{t.status}</td><td>{t.notify_state}"
            f"（{len(t.attempts)}次）</td><td>{escape(t.addtime)}</td></tr>"
            for t in list(reversed(store.trades.values()))[:50]
        )
        return _page(
            "易支付 V2 沙箱",
            "<h1>易支付 V2 沙箱</h1><table><tr><th>平台订单号</th><th>商户订单号</th>"
            f"<th>金额</th><th>状态</th><th>异步通知</th><th>创建</th></tr>{rows}</table>",
        )

    return app
