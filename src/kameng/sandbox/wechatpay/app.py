"""WeChat Pay API v3 sandbox twin, as an ASGI app.

Real wire endpoints (every call needs the merchant's ``Authorization:
WECHATPAY2-SHA256-RSA2048 …`` header; every answer is signed with
``Wechatpay-*`` headers):

* ``POST /v3/pay/transactions/native`` → ``{"code_url": "weixin://wxpay/bizpayurl?pr=…"}``
* ``POST /v3/pay/transactions/h5`` → ``{"h5_url": ".../cgi-bin/mmpayweb-bin/checkmweb?…"}``
* ``GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=`` (and ``/id/{transaction_id}``)
* ``POST /v3/refund/domestic/refunds`` (idempotent by ``out_refund_no``),
  ``GET /v3/refund/domestic/refunds/{out_refund_no}``
* ``GET /v3/certificates`` (the platform certificate, AES-GCM encrypted)
* ``GET /v3/bill/tradebill?bill_date=`` → ``download_url`` of the day's bill

The buyer's side: ``/sandbox/scan?code_url=`` (what scanning the Native QR
opens), ``/cgi-bin/mmpayweb-bin/checkmweb`` (the H5 landing page), both
showing the cashier with one button per outcome. Test helpers live under
``/sandbox/``. Notifies follow the platform's retry schedule, each delay
multiplied by ``time_scale``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kameng.kit import clock as kit_clock
from kameng.sandbox.trade_routes import sandbox_app
from kameng.sandbox.wechatpay import bill, pages, wire
from kameng.sandbox.wechatpay.keys import Identity, load_or_create
from kameng.sandbox.wechatpay.notifier import Notifier
from kameng.sandbox.wechatpay.store import OUTCOMES, REFUND_OUTCOMES, Refund, Store, Trade

log = structlog.get_logger()

CLOCK_SKEW_SECONDS = 300
PAY_LATER_SECONDS = 60
REFUND_SETTLE_SECONDS = {"refund_succeeds": 2, "refund_late": 120, "refund_fails": 2}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _body_fields(raw: str) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "PARAM_ERROR", "请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "PARAM_ERROR", "请求体不是JSON对象")
    return body


def _text(body: dict[str, Any], name: str, max_len: int, min_len: int = 1) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not (min_len <= len(value) <= max_len):
        raise ApiError(
            400, "PARAM_ERROR", f"输入源“/body/{name}”映射到字段“{name}”必填性规则校验失败"
        )
    return value


def create_app(
    *,
    data_dir: Path,
    time_scale: float = 1.0,
    http_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
    serial_mode: str = "public_key",
) -> FastAPI:
    """``serial_mode``: sign answers and notifies as 微信支付公钥 (``public_key``,
    serial = PUB_KEY_ID_…) or with the platform certificate (``certificate``)."""
    now = clock or kit_clock.now
    identity, created = load_or_create(data_dir)
    if created:
        log.info("wechatpay sandbox: generated keys", directory=str(data_dir))
    store = Store(data_dir / "trades.json", now)
    serial = (
        identity.public_key_id if serial_mode == "public_key" else identity.platform_cert_serial
    )
    notifier = Notifier(
        identity, store, serial, time_scale, http_transport, lambda: int(now().timestamp())
    )

    app = sandbox_app("微信支付 v3 沙箱", notifier.resume, notifier.aclose)
    app.state.wechatpay = notifier
    app.state.identity = identity

    def signed(payload: dict[str, Any] | None, status: int = 200) -> Response:
        body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
        timestamp, nonce = str(int(now().timestamp())), wire.nonce()
        headers = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": wire.rsa_sign(
                identity.platform_key, wire.response_message(timestamp, nonce, body)
            ),
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": wire.SCHEME,
            "Request-ID": secrets.token_hex(16),
        }
        return Response(
            body,
            status_code=status,
            headers=headers,
            media_type="application/json" if body else None,
        )

    def failure(exc: ApiError) -> Response:
        return signed({"code": exc.code, "message": exc.message}, exc.status)

    async def authenticate(request: Request) -> str:
        """Check the merchant's Authorization header; returns the raw body."""
        raw = (await request.body()).decode("utf-8", "replace")
        fields = wire.parse_authorization(request.headers.get("authorization", ""))
        if fields is None:
            raise ApiError(
                401, "SIGN_ERROR", "Http头Authorization值格式错误，请参考《微信支付API v3签名规则》"
            )
        if fields["mchid"] != identity.mchid:
            raise ApiError(401, "SIGN_ERROR", "商户号不存在或与签名不匹配")
        if fields["serial_no"] != identity.merchant_serial_no:
            raise ApiError(401, "SIGN_ERROR", "商户证书序列号有误。请使用签名私钥匹配的证书序列号")
        try:
            skew = abs(int(fields["timestamp"]) - now().timestamp())
        except ValueError:
            skew = CLOCK_SKEW_SECONDS + 1
        if skew > CLOCK_SKEW_SECONDS:
            raise ApiError(401, "SIGN_ERROR", "Http头Authorization中的timestamp与当前时间相差过大")
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = wire.request_message(
            request.method, path, fields["timestamp"], fields["nonce_str"], raw
        )
        if not wire.rsa_verify(identity.merchant_public_key, message, fields["signature"]):
            raise ApiError(401, "SIGN_ERROR", "签名错误，请检查后再试")
        return raw

    async def create(request: Request, trade_type: str) -> dict[str, Any]:
        body = _body_fields(await authenticate(request))
        if body.get("mchid") != identity.mchid:
            raise ApiError(400, "MCH_NOT_EXISTS", "商户号不存在")
        if body.get("appid") != identity.appid:
            raise ApiError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        out_trade_no = _text(body, "out_trade_no", 32, 6)
        description = _text(body, "description", 127)
        notify_url = _text(body, "notify_url", 255)
        amount = body.get("amount")
        total = amount.get("total") if isinstance(amount, dict) else None
        if not isinstance(total, int) or isinstance(total, bool) or total < 1:
            raise ApiError(
                400, "PARAM_ERROR", "输入源“/body/amount/total”映射到字段“total”必填性规则校验失败"
            )
        if urlsplit(notify_url).query or urlsplit(notify_url).scheme not in ("http", "https"):
            raise ApiError(400, "PARAM_ERROR", "notify_url格式不正确")
        if trade_type == "MWEB":
            scene = body.get("scene_info")
            if not (
                isinstance(scene, dict)
                and scene.get("payer_client_ip")
                and isinstance(scene.get("h5_info"), dict)
            ):
                raise ApiError(
                    400,
                    "PARAM_ERROR",
                    "输入源“/body/scene_info”映射到字段“scene_info”必填性规则校验失败",
                )
        trade = store.trade(identity.mchid, out_trade_no)
        if trade is None:
            trade = Trade(
                mchid=identity.mchid,
                appid=identity.appid,
                out_trade_no=out_trade_no,
                description=description,
                total=total,
                notify_url=notify_url,
                trade_type="NATIVE" if trade_type == "NATIVE" else "MWEB",
                created_at=store.now_text(),
                prepay_token="wx" + secrets.token_hex(16),
                attach=str(body.get("attach") or "")[:128],
            )
            store.add_trade(trade)
        elif trade.trade_state == "SUCCESS":
            raise ApiError(400, "ORDERPAID", "该订单已支付")
        elif trade.total != total or trade.description != description:
            raise ApiError(400, "INVALID_REQUEST", "201 商户订单号重复")
        if trade_type == "NATIVE":
            return {"code_url": f"weixin://wxpay/bizpayurl?pr={trade.prepay_token}"}
        base = str(request.base_url)
        query = urlencode({"prepay_id": trade.prepay_token, "package": secrets.randbelow(10**10)})
        return {"h5_url": f"{base}cgi-bin/mmpayweb-bin/checkmweb?{query}"}

    @app.post("/v3/pay/transactions/native")
    async def native(request: Request) -> Response:
        try:
            return signed(await create(request, "NATIVE"))
        except ApiError as exc:
            return failure(exc)

    @app.post("/v3/pay/transactions/h5")
    async def h5(request: Request) -> Response:
        try:
            return signed(await create(request, "MWEB"))
        except ApiError as exc:
            return failure(exc)

    @app.get("/v3/pay/transactions/out-trade-no/{out_trade_no}")
    async def query(out_trade_no: str, request: Request) -> Response:
        try:
            await authenticate(request)
            if request.query_params.get("mchid") != identity.mchid:
                raise ApiError(
                    400, "PARAM_ERROR", "输入源“/query/mchid”映射到字段“mchid”必填性规则校验失败"
                )
            trade = store.trade(identity.mchid, out_trade_no)
            if trade is None:
                raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在")
            return signed(trade.transaction_json())
        except ApiError as exc:
            return failure(exc)

    @app.get("/v3/pay/transactions/id/{transaction_id}")
    async def query_by_id(transaction_id: str, request: Request) -> Response:
        try:
            await authenticate(request)
            for trade in store.trades.values():
                if (
                    trade.transaction_id == transaction_id
                    and request.query_params.get("mchid") == trade.mchid
                ):
                    return signed(trade.transaction_json())
            raise ApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        except ApiError as exc:
            return failure(exc)

    @app.post("/v3/refund/domestic/refunds")
    async def refund(request: Request) -> Response:
        try:
            body = _body_fields(await authenticate(request))
            out_refund_no = _text(body, "out_refund_no", 64)
            existing = store.refund(identity.mchid, out_refund_no)
            if existing is not None:
                return signed(existing.json())  # 同一退款单号多次请求只退一笔
            trade = None
            if isinstance(body.get("out_trade_no"), str):
                trade = store.trade(identity.mchid, body["out_trade_no"])
            elif isinstance(body.get("transaction_id"), str):
                trade = next(
                    (
                        t
                        for t in store.trades.values()
                        if t.transaction_id == body["transaction_id"]
                    ),
                    None,
                )
            if trade is None:
                raise ApiError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
            if not trade.transaction_id:
                raise ApiError(400, "INVALID_REQUEST", "订单未支付")
            amount: dict[str, Any] = body["amount"] if isinstance(body.get("amount"), dict) else {}
            want, total = amount.get("refund"), amount.get("total")
            if (
                not isinstance(want, int)
                or isinstance(want, bool)
                or want < 1
                or total != trade.total
            ):
                raise ApiError(400, "PARAM_ERROR", "退款金额或订单金额不正确")
            if trade.refunded + want > trade.total:
                raise ApiError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
            notify_url = str(body.get("notify_url") or "")
            record = Refund(
                refund_id="50" + secrets.token_hex(14)[:27],
                out_refund_no=out_refund_no,
                out_trade_no=trade.out_trade_no,
                transaction_id=trade.transaction_id,
                mchid=identity.mchid,
                refund=want,
                total=trade.total,
                reason=str(body.get("reason") or "")[:80],
                notify_url=notify_url,
                created_at=store.now_text(),
                outcome=trade_refund_outcome.get(trade.out_trade_no, "refund_succeeds"),
            )
            store.add_refund(record, trade)
            notifier.start_refund(record, REFUND_SETTLE_SECONDS[record.outcome])
            return signed(record.json())
        except ApiError as exc:
            return failure(exc)

    trade_refund_outcome: dict[str, str] = {}

    @app.get("/v3/refund/domestic/refunds/{out_refund_no}")
    async def refund_query(out_refund_no: str, request: Request) -> Response:
        try:
            await authenticate(request)
            record = store.refund(identity.mchid, out_refund_no)
            if record is None:
                raise ApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return signed(record.json())
        except ApiError as exc:
            return failure(exc)

    @app.get("/v3/certificates")
    async def certificates(request: Request) -> Response:
        try:
            await authenticate(request)
        except ApiError as exc:
            return failure(exc)
        sealed = wire.encrypt_resource(
            identity.apiv3_key, identity.platform_cert_pem, "certificate"
        )
        cert = {
            "serial_no": identity.platform_cert_serial,
            "effective_time": store.now_text(),
            "expire_time": "2031-11-25T12:00:00+08:00",
            "encrypt_certificate": sealed,
        }
        return signed({"data": [cert]})

    @app.get("/v3/bill/tradebill")
    async def tradebill(request: Request) -> Response:
        try:
            await authenticate(request)
            day = request.query_params.get("bill_date", "")
            if not bill.valid_day(day):
                raise ApiError(400, "PARAM_ERROR", "bill_date格式不正确")
            token = bill.register(day, request.query_params.get("tar_type", ""))
            text = bill.render(store, identity.mchid, day)
            return signed(
                {
                    "hash_type": "SHA1",
                    "hash_value": bill.sha1(text),
                    "download_url": f"{request.base_url}v3/billdownload/file?token={token}",
                }
            )
        except ApiError as exc:
            return failure(exc)

    @app.get("/v3/billdownload/file")
    async def bill_file(request: Request) -> Response:
        try:
            await authenticate(request)
            wanted = bill.lookup(request.query_params.get("token", ""))
            if wanted is None:
                raise ApiError(404, "NO_STATEMENT_EXIST", "账单文件不存在")
        except ApiError as exc:
            return failure(exc)
        day, tar_type = wanted
        return bill.response(bill.render(store, identity.mchid, day), tar_type)

    # -- the buyer's side ------------------------------------------------------

    def pay(trade: Trade, outcome: str) -> None:
        trade.outcome = outcome
        store.save()  # the outcome survives a restart (a pending pay_later included)
        if outcome == "pay_later":
            notifier.pay_later(trade, PAY_LATER_SECONDS)
        elif store.mark_paid(trade):
            notifier.start_trade(trade)

    def cashier_for(token: str) -> Trade | None:
        return store.by_token.get(token)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(pages.index(store.recent()[:50], str(data_dir)))

    @app.get("/sandbox/scan", response_class=HTMLResponse)
    async def scan(request: Request) -> Response:
        """What a phone shows after scanning a Native ``code_url``."""
        code_url = request.query_params.get("code_url", "")
        token = parse_qs(urlsplit(code_url).query).get("pr", [""])[0]
        return _cashier(cashier_for(token), "")

    @app.get("/cgi-bin/mmpayweb-bin/checkmweb", response_class=HTMLResponse)
    async def h5_landing(request: Request) -> Response:
        trade = cashier_for(request.query_params.get("prepay_id", ""))
        return _cashier(trade, request.query_params.get("redirect_url", ""))

    @app.get("/sandbox/cashier/{token}", response_class=HTMLResponse)
    async def cashier_page(token: str) -> Response:
        return _cashier(cashier_for(token), "")

    def _cashier(trade: Trade | None, redirect_url: str) -> Response:
        if trade is None:
            return HTMLResponse(pages.error("订单不存在或已过期"), status_code=404)
        if trade.trade_state != "NOTPAY":
            return HTMLResponse(pages.done(trade, "该订单已支付"))
        action = f"/sandbox/cashier/{trade.prepay_token}?" + urlencode(
            {"redirect_url": redirect_url}
        )
        return HTMLResponse(pages.cashier(trade, action))

    @app.post("/sandbox/cashier/{token}")
    async def cashier_pay(token: str, request: Request) -> Response:
        trade = cashier_for(token)
        if trade is None:
            return HTMLResponse(pages.error("订单不存在或已过期"), status_code=404)
        form = await request.form()
        outcome = str(form.get("outcome") or "notify")
        if outcome not in OUTCOMES:
            return HTMLResponse(pages.error("未知的结果"), status_code=400)
        pay(trade, outcome)
        redirect_url = request.query_params.get("redirect_url", "")
        if redirect_url.startswith(("http://", "https://")):
            return RedirectResponse(redirect_url, status_code=302)
        return HTMLResponse(pages.done(trade, "支付成功" if outcome != "pay_later" else "稍后支付"))

    # -- test helpers (not part of the real API) ---------------------------------

    def sandbox_json(trade: Trade) -> dict[str, Any]:
        return {
            **trade.transaction_json(),
            "outcome": trade.outcome,
            "notify_state": trade.notify_state,
            "notify_attempts": [a.__dict__ for a in trade.attempts],
            "refunds": [
                r.json() | {"attempts": [a.__dict__ for a in r.attempts]}
                for r in store.refunds_of(trade)
            ],
            "cashier": f"/sandbox/cashier/{trade.prepay_token}",
        }

    def helper_trade(out_trade_no: str) -> Trade | None:
        return store.trade(identity.mchid, out_trade_no)

    @app.get("/sandbox/trades/{out_trade_no}")
    async def sandbox_trade(out_trade_no: str) -> Response:
        trade = helper_trade(out_trade_no)
        if trade is None:
            return Response('{"code":"ORDER_NOT_EXIST"}', 404, media_type="application/json")
        return Response(
            json.dumps(sandbox_json(trade), ensure_ascii=False), media_type="application/json"
        )

    @app.post("/sandbox/trades/{out_trade_no}/pay")
    async def sandbox_pay(out_trade_no: str, request: Request) -> Response:
        """Pay by script: ``?outcome=`` one of the cashier's outcomes (default notify)."""
        trade = helper_trade(out_trade_no)
        outcome = request.query_params.get("outcome", "notify")
        if trade is None or outcome not in OUTCOMES:
            return Response('{"code":"PARAM_ERROR"}', 400, media_type="application/json")
        pay(trade, outcome)
        return Response(
            json.dumps(sandbox_json(trade), ensure_ascii=False), media_type="application/json"
        )

    @app.post("/sandbox/trades/{out_trade_no}/refund-outcome")
    async def sandbox_refund_outcome(out_trade_no: str, request: Request) -> Response:
        outcome = request.query_params.get("outcome", "")
        if outcome not in REFUND_OUTCOMES:
            return Response('{"code":"PARAM_ERROR"}', 400, media_type="application/json")
        trade_refund_outcome[out_trade_no] = outcome
        return Response('{"code":"SUCCESS"}', media_type="application/json")

    @app.post("/sandbox/trades/{out_trade_no}/renotify")
    async def sandbox_renotify(out_trade_no: str) -> Response:
        trade = helper_trade(out_trade_no)
        if trade is None or not trade.transaction_id:
            return Response('{"code":"ORDER_NOT_PAID"}', 409, media_type="application/json")
        acked = await notifier.attempt(
            trade.notify_url, notifier.trade_body(trade), "TRANSACTION.SUCCESS", trade.attempts
        )
        return Response(
            json.dumps({"acked": acked, "attempt": trade.attempts[-1].__dict__}),
            media_type="application/json",
        )

    return app


def identity_of(app: FastAPI) -> Identity:
    identity: Identity = app.state.identity
    return identity
