"""A protocol twin of the Alipay open platform (支付宝开放平台), as an ASGI app.

* ``/gateway.do`` (GET or POST form), the one endpoint of the open API: common
  parameters ``app_id, method, charset, sign_type=RSA2, timestamp, version,
  biz_content, sign`` (+ ``notify_url``/``return_url``), SHA256withRSA over the
  sorted fields with the merchant's app key. Methods: ``alipay.trade.page.pay``
  and ``alipay.trade.wap.pay`` (the cashier page), ``alipay.trade.query``,
  ``alipay.trade.refund`` (idempotent by ``out_request_no``),
  ``alipay.trade.fastpay.refund.query`` and
  ``alipay.data.dataservice.bill.downloadurl.query`` (a 30-second link to the
  zipped GBK CSV bill, ``sandbox/alipay_bill.py``). Answers are
  ``{"<method>_response": {...}, "sign": "..."}`` signed over the exact JSON
  text of the ``_response`` value with the Alipay platform key.
* Paying sends the async notify as Alipay does: a form POST signed with the
  platform key (``sign`` and ``sign_type`` unsigned), resent at 4m, 10m, 10m,
  1h, 2h, 6h, 15h until the body is exactly ``success``.
* ``/sandbox/...``: pay by script with an outcome (pay, pay later, never
  notify, notify twice, notify with a wrong amount), inspect, re-send.

Trades persist in a JSON file; keys come from ``keys.ensure_keypair``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kameng.kit import clock as kit_clock
from kameng.sandbox.alipay_bill import BillTokens, bill_day, bill_zip
from kameng.sandbox.alipay_store import (
    NOTIFY_OFFSETS_MINUTES,
    REFUND_OUTCOMES,
    AlipayStore,
    ApiError,
    Trade,
    invalid,
    yuan,
)
from kameng.sandbox.persist import JsonFile
from kameng.sandbox.retry import Retrier
from kameng.sandbox.trade_flow import CST, TradeFlow, outcome_options, request_fields
from kameng.sandbox.trade_routes import add_inspection_routes, flow_app, page, with_query

BILL_METHOD = "alipay.data.dataservice.bill.downloadurl.query"
PAY_METHODS = {"alipay.trade.page.pay", "alipay.trade.wap.pay"}
API_METHODS = {
    "alipay.trade.query",
    "alipay.trade.refund",
    "alipay.trade.fastpay.refund.query",
    BILL_METHOD,
}
_TIMESTAMP = "%Y-%m-%d %H:%M:%S"


SYSTEM_ERROR = ("20000", "Service Currently Unavailable", "ACQ.SYSTEM_ERROR", "系统繁忙")


def signed_json(store: AlipayStore, method: str, body: dict[str, Any]) -> Response:
    """The response envelope; the sign covers exactly the bytes of the body as sent."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    key = method.replace(".", "_") + "_response"
    raw = f'{{"{key}":{text},"sign":"{store.sign_text(text)}"}}'
    return Response(raw.encode(), media_type="application/json;charset=utf-8")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return page(title, body, money_color="#1677ff", status=status)


def _error_page(sub_code: str, sub_msg: str) -> HTMLResponse:
    return _page(
        "支付宝 - 错误",
        f"<h1>支付宝（沙箱）</h1><p>错误代码 {escape(sub_code)}</p><p>{escape(sub_msg)}</p>",
        400,
    )


def _cashier(trade: Trade) -> HTMLResponse:
    options = outcome_options(REFUND_OUTCOMES)
    return _page(
        "支付宝收银台",
        "<h1>支付宝收银台（沙箱）</h1>"
        f'<p class="money">￥{yuan(trade.cents)}</p>'
        f"<p>{escape(trade.subject)}</p><p>商户订单号 {escape(trade.out_trade_no)}<br>"
        f"支付宝交易号 {escape(trade.trade_no)}</p>"
        f'<form method="post" action="/sandbox/pay/{escape(trade.trade_no)}">{options}'
        '<button type="submit">确认付款</button></form>',
    )


def create_app(
    *,
    app_id: str,
    app_public_pem: str,
    alipay_private_pem: str,
    seller_id: str = "2088000000000001",
    time_scale: float = 1.0,
    state_file: JsonFile | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    store = AlipayStore(
        app_id=app_id,
        seller_id=seller_id,
        app_public_pem=app_public_pem,
        alipay_private_pem=alipay_private_pem,
        clock=clock or kit_clock.now,
        file=state_file or JsonFile(None),
    )
    flow = TradeFlow(
        "alipay",
        store,
        Retrier(NOTIFY_OFFSETS_MINUTES, time_scale),
        httpx.AsyncClient(transport=http_transport, timeout=10),
        notify_request=lambda client, trade: client.build_request(
            "POST", trade.notify_url, data=store.notify_fields(trade)
        ),
        acknowledges=lambda body: body == "success",
        unpaid=lambda trade: trade.status == "WAIT_BUYER_PAY",
        refund_task=lambda trade, refund: f"alipay-refund-{trade.trade_no}-{refund.out_request_no}",
    )
    pay, finish_later = flow.pay, flow.finish_later
    app = flow_app("支付宝 沙箱", flow)
    app.state.alipay = store

    def check_common(fields: dict[str, str]) -> tuple[str, dict[str, Any]]:
        """The open API's common checks, in Alipay's order; returns (method, biz)."""
        for name in ("app_id", "method", "sign_type", "sign", "timestamp", "version"):
            if not fields.get(name):
                raise invalid(f"isv.missing-{name.replace('_', '-')}", f"缺少{name}参数")
        if fields["app_id"] != store.app_id:
            raise invalid("isv.invalid-app-id", "无效的AppID参数")
        method = fields["method"]
        if method not in PAY_METHODS | API_METHODS:
            raise invalid("isv.invalid-method", "不存在的方法名")
        if fields["sign_type"] != "RSA2":
            raise invalid("isv.invalid-signature-type", "无效的签名类型")
        try:
            datetime.strptime(fields["timestamp"], _TIMESTAMP)
        except ValueError:
            raise invalid("isv.invalid-timestamp", "非法的时间戳参数") from None
        if fields.get("charset", "utf-8").lower() != "utf-8":
            raise invalid("isv.invalid-charset", "字符集不合法")
        if not store.request_is_signed(fields):
            raise invalid("isv.invalid-signature", "验签出错")
        try:
            biz = json.loads(fields.get("biz_content") or "{}")
        except ValueError:
            raise invalid("isv.invalid-parameter", "biz_content 不是 JSON") from None
        if not isinstance(biz, dict):
            raise invalid("isv.invalid-parameter", "biz_content 不是 JSON 对象")
        return method, biz

    @app.api_route("/gateway.do", methods=["GET", "POST"])
    async def gateway(request: Request) -> Response:
        fields = await request_fields(request)
        method = fields.get("method", "")
        try:
            method, biz = check_common(fields)
            if method in PAY_METHODS:
                trade = store.create_or_reuse(
                    biz, method, fields.get("notify_url", ""), fields.get("return_url", "")
                )
                return _cashier(trade)
            if method == BILL_METHOD:
                return signed_json(store, method, bill_link(request, biz))
            return signed_json(store, method, api(method, biz))
        except ApiError as exc:
            if method in PAY_METHODS:
                return _error_page(exc.body["sub_code"], exc.body["sub_msg"])
            if method in API_METHODS:
                return signed_json(store, method, exc.body)
            return JSONResponse({"error_response": exc.body})

    bill_tokens = BillTokens()

    def bill_link(request: Request, biz: dict[str, Any]) -> dict[str, Any]:
        now = store.clock()
        day = bill_day(biz, now.astimezone(CST).date())
        query = urlencode(
            {
                "bizType": biz["bill_type"],
                "userId": store.seller_id,
                "fileType": "csv.zip",
                "bizDates": day.strftime("%Y%m%d"),
                "timestamp": str(int(now.timestamp() * 1000)),
                "token": bill_tokens.issue(day, now),
            }
        )
        url = f"{request.base_url}downloadBillFile.resource?{query}"
        return {"code": "10000", "msg": "Success", "bill_download_url": url}

    @app.get("/downloadBillFile.resource")
    async def download_bill(request: Request) -> Response:
        day = bill_tokens.redeem(request.query_params.get("token", ""), store.clock())
        if day is None:
            return _error_page("isp.bill_url_expired", "下载链接已过期或不存在")
        name, body = bill_zip(store, day, store.clock())
        return Response(
            body,
            media_type="application/oct-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def api(method: str, biz: dict[str, Any]) -> dict[str, Any]:
        trade = store.find(biz)
        if method == "alipay.trade.query":
            return trade.query_json()
        if method == "alipay.trade.refund":
            refund, moved = store.refund(trade, biz)
            if refund.processing:
                if moved:
                    finish_later(trade, refund)
                raise ApiError(*SYSTEM_ERROR)  # the refund goes on; the answer says nothing
            return {
                "code": "10000",
                "msg": "Success",
                "trade_no": trade.trade_no,
                "out_trade_no": trade.out_trade_no,
                "buyer_logon_id": "sandbox***@alipay.test",
                "fund_change": "Y" if moved else "N",
                "refund_fee": yuan(trade.refunded_cents),
                "gmt_refund_pay": refund.at,
            }
        request_no = str(biz.get("out_request_no") or trade.out_trade_no)
        done = next((r for r in trade.refunds if r.out_request_no == request_no), None)
        answer: dict[str, Any] = {"code": "10000", "msg": "Success"}
        if done is not None and done.processing:
            raise ApiError(*SYSTEM_ERROR)
        if done is not None:  # an unknown request number answers just Success, as Alipay does
            answer |= {
                "trade_no": trade.trade_no,
                "out_trade_no": trade.out_trade_no,
                "out_request_no": done.out_request_no,
                "total_amount": yuan(trade.cents),
                "refund_amount": yuan(done.cents),
                "refund_status": "REFUND_SUCCESS",
            }
        return answer

    @app.post("/sandbox/pay/{trade_no}")
    async def cashier_pay(trade_no: str, request: Request) -> Response:
        trade = store.get(trade_no)
        if trade is None:
            return _error_page("ACQ.TRADE_NOT_EXIST", "交易不存在")
        fields = await request_fields(request)
        if fields.get("refund_outcome") in REFUND_OUTCOMES:
            trade.refund_outcome = fields["refund_outcome"]
        if not await pay(trade, fields.get("outcome", "notify")):
            return _error_page("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
        if trade.return_url and trade.status != "WAIT_BUYER_PAY":
            url = with_query(trade.return_url, store.return_fields(trade))
            return RedirectResponse(url, status_code=302)
        return _page("支付宝", f"<h1>{'付款成功' if trade.paid_at else '稍后付款'}</h1>")

    add_inspection_routes(
        app,
        flow,
        find=lambda key: store.get(key) or store.get(store.by_out.get(key, "")),
        find_to_renotify=store.get,
        describe=Trade.query_json,
        refund_outcomes=REFUND_OUTCOMES,
        missing={"code": "40004", "sub_code": "ACQ.TRADE_NOT_EXIST"},
        not_paid={"error": "交易未支付"},
        bad_outcome=lambda names: {"error": f"outcome must be one of {names}"},
    )

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        rows = "".join(
            f"<tr><td>{escape(t.trade_no)}</td><td>{escape(t.out_trade_no)}</td>"
            f"<td>{yuan(t.cents)}</td><td>{t.status}</td><td>{t.notify_state}"
            f"（{len(t.attempts)}次）</td><td>{escape(t.created)}</td></tr>"
            for t in store.recent()[:50]
        )
        return _page(
            "支付宝沙箱",
            "<h1>支付宝 沙箱</h1><table><tr><th>交易号</th><th>商户订单号</th><th>金额</th>"
            f"<th>状态</th><th>异步通知</th><th>创建</th></tr>{rows}</table>",
        )

    return app
