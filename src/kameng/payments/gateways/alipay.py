"""Alipay (支付宝开放平台, RSA2) adapter: page/wap pay links, the form-POST notify,
alipay.trade.query, refunds and the trade bill. Signing and verifying go through python-alipay-sdk.

The SDK's own HTTP call (urllib, blocking) is not used: it would stall the
event loop. It builds and signs the request, httpx sends it, and the SDK
verifies the answer's signature over the exact JSON text Alipay signed.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import partial
from typing import Any

import httpx
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError

from kameng.kit.i18n import N_
from kameng.kit.money import MoneyFormatError, format_yuan, parse_yuan
from kameng.models.vocabulary import NotifyVerdict
from kameng.payments.gateways import alipay_bill
from kameng.payments.gateways.base import (
    BillLine,
    BillRefund,
    GatewayUnavailable,
    InboundNotify,
    NotifyAck,
    NotifyRejected,
    PayRequest,
    RefundAnswer,
    RefundOutcome,
    RefundRequest,
    VerifiedNotify,
    text_ack,
)

ALIPAY_TITLE = N_("Alipay")
PAID_STATUSES = frozenset({"TRADE_SUCCESS", "TRADE_FINISHED"})
_REQUIRED = ("app_id", "out_trade_no", "trade_no", "total_amount", "trade_status", "sign")
_OUT_TRADE_NO = re.compile(r"^[a-zA-Z0-9_\-]{1,64}$")
_AMOUNT = re.compile(r"^\d{1,10}\.\d{2}$")
PAY_MODES = {"page": "alipay.trade.page.pay", "wap": "alipay.trade.wap.pay"}


def pem(text: str, kind: str) -> str:
    """Alipay's console hands out bare base64 keys; the SDK wants PEM."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return text
    body = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


class AlipayGateway:
    direct_pay_link = True  # the link goes straight to the gateway

    def __init__(
        self,
        *,
        name: str,
        gateway_url: str,
        app_id: str,
        app_private_key: str,
        alipay_public_key: str,
        seller_id: str = "",
        pay_mode: str = "page",
        title: str = ALIPAY_TITLE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not (app_id and app_private_key.strip() and alipay_public_key.strip()):
            # Fail closed: without Alipay's public key nothing can be verified.
            raise ValueError(f"gateway {name}: app id and both keys are required")
        if pay_mode not in PAY_MODES:
            raise ValueError(f"gateway {name}: pay mode must be one of {sorted(PAY_MODES)}")
        self.name = name
        self.title = title
        self.gateway_url = gateway_url
        self.app_id = app_id
        self.seller_id = seller_id
        self.pay_mode = pay_mode
        self._sdk = AliPay(
            appid=app_id,
            app_notify_url=None,
            app_private_key_string=pem(app_private_key, "PRIVATE KEY"),
            alipay_public_key_string=pem(alipay_public_key, "PUBLIC KEY"),
            sign_type="RSA2",
        )
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    # -- paying ----------------------------------------------------------------

    def pay_url(self, request: PayRequest) -> str:
        build = (
            self._sdk.api_alipay_trade_page_pay
            if self.pay_mode == "page"
            else self._sdk.api_alipay_trade_wap_pay
        )
        query: str = build(
            subject=request.subject[:256],
            out_trade_no=request.order_no,
            total_amount=format_yuan(request.amount_cents),
            return_url=request.return_url,
            notify_url=request.notify_url,
        )
        return f"{self.gateway_url}?{query}"

    # -- the async notify -----------------------------------------------------

    def notify_ack(self, acknowledged: bool, verdict: NotifyVerdict) -> NotifyAck:
        return text_ack(acknowledged)  # exactly the 7 characters "success"

    def parse_notify(self, notify: InboundNotify) -> VerifiedNotify:
        params = notify.params
        reject = partial(NotifyRejected.naming, params)
        out_trade_no = params.get("out_trade_no")
        trade_no = params.get("trade_no")

        missing = [f for f in _REQUIRED if not params.get(f)]
        if missing:
            raise reject(NotifyVerdict.MALFORMED, f"missing {','.join(missing)}")
        if params.get("sign_type", "RSA2") != "RSA2":
            raise reject(NotifyVerdict.BAD_SIGNATURE, "sign_type is not RSA2")
        if not self._verify(params):
            raise reject(
                NotifyVerdict.BAD_SIGNATURE, "RSA2 signature does not verify with Alipay's key"
            )
        if params["app_id"] != self.app_id:
            raise reject(NotifyVerdict.WRONG_MERCHANT, f"app_id {params['app_id']} is not ours")
        if self.seller_id and params.get("seller_id") != self.seller_id:
            raise reject(
                NotifyVerdict.WRONG_MERCHANT, f"seller_id {params.get('seller_id')} is not ours"
            )
        if params["trade_status"] not in PAID_STATUSES:
            raise reject(NotifyVerdict.NOT_PAID, f"trade_status {params['trade_status']}")
        assert out_trade_no is not None and trade_no is not None
        if not _OUT_TRADE_NO.match(out_trade_no) or len(trade_no) > 64:
            raise reject(NotifyVerdict.MALFORMED, "bad out_trade_no or trade_no")
        cents = _cents(params["total_amount"])
        if cents is None:
            raise reject(NotifyVerdict.MALFORMED, f"total_amount {params['total_amount']!r}")
        return VerifiedNotify(
            out_trade_no=out_trade_no, trade_no=trade_no, amount_cents=cents, method="alipay"
        )

    def _verify(self, params: dict[str, str]) -> bool:
        # Alipay signs the non-empty fields but sign and sign_type (rsaCheckV1);
        # the SDK's verify() keeps empty ones, so drop them first.
        data = {k: v for k, v in params.items() if k not in ("sign", "sign_type") and v != ""}
        try:
            return bool(self._sdk.verify(data, params["sign"]))
        except Exception:  # undecodable base64, non-ASCII: a wrong signature like any other
            return False

    # -- 主动查单 ----------------------------------------------------------------

    async def query(self, order_no: str) -> VerifiedNotify | None:
        """alipay.trade.query. ACQ.TRADE_NOT_EXIST means the buyer has not paid
        (Alipay only creates the trade once the buyer reaches it): not paid."""
        answer = await self._api("alipay.trade.query", {"out_trade_no": order_no})
        code, sub_code = answer.get("code"), answer.get("sub_code")
        if code == "40004" and sub_code == "ACQ.TRADE_NOT_EXIST":
            return None
        if code != "10000":
            raise GatewayUnavailable(f"code {code} {sub_code}: {answer.get('sub_msg')}")
        if answer.get("out_trade_no") != order_no:
            raise GatewayUnavailable("the answer is about another order")
        if answer.get("trade_status") not in PAID_STATUSES:
            return None
        trade_no = str(answer.get("trade_no") or "")
        cents = _cents(str(answer.get("total_amount", "")))
        if not trade_no or len(trade_no) > 64 or cents is None:
            raise GatewayUnavailable("no trade number or amount in the answer")
        return VerifiedNotify(
            out_trade_no=order_no, trade_no=trade_no, amount_cents=cents, method="alipay"
        )

    # -- refunds ---------------------------------------------------------------

    async def refund(self, request: RefundRequest) -> RefundAnswer:
        """alipay.trade.refund: synchronous; the same out_request_no moves no money
        twice (fund_change N), so code 10000 means refunded either way."""
        answer = await self._api(
            "alipay.trade.refund",
            {
                "out_trade_no": request.order_no,
                "refund_amount": format_yuan(request.amount_cents),
                "out_request_no": request.refund_no,
                "refund_reason": request.reason[:256],
            },
        )
        if answer.get("code") == "10000":
            if answer.get("out_trade_no") != request.order_no:
                raise GatewayUnavailable("the refund answer is about another order")
            return RefundAnswer(RefundOutcome.SUCCEEDED, request.refund_no)
        if answer.get("code") == "40004":  # a business refusal (amount over the rest, …)
            return RefundAnswer(
                RefundOutcome.REFUSED, detail=f"{answer.get('sub_code')}: {answer.get('sub_msg')}"
            )
        raise GatewayUnavailable(f"code {answer.get('code')} {answer.get('sub_code')}")

    async def query_refund(self, request: RefundRequest) -> RefundAnswer:
        """alipay.trade.fastpay.refund.query: an unknown request number answers a
        bare Success without refund_amount."""
        answer = await self._api(
            "alipay.trade.fastpay.refund.query",
            {"out_trade_no": request.order_no, "out_request_no": request.refund_no},
        )
        if answer.get("code") != "10000":
            raise GatewayUnavailable(f"code {answer.get('code')} {answer.get('sub_code')}")
        if not answer.get("refund_amount"):
            return RefundAnswer(RefundOutcome.UNKNOWN, detail="no such refund at Alipay")
        if (
            answer.get("out_request_no") != request.refund_no
            or _cents(str(answer.get("refund_amount"))) != request.amount_cents
        ):
            raise GatewayUnavailable("the refund answer is about another refund or amount")
        if answer.get("refund_status", "REFUND_SUCCESS") == "REFUND_SUCCESS":
            return RefundAnswer(RefundOutcome.SUCCEEDED, request.refund_no)
        return RefundAnswer(RefundOutcome.PENDING, detail=str(answer.get("refund_status")))

    # -- the bill (对账单) -------------------------------------------------------

    async def bill(self, day: date) -> list[BillLine]:
        return (await self._bill(day))[0]

    async def bill_refunds(self, day: date) -> list[BillRefund]:
        return (await self._bill(day))[1]

    async def _bill(self, day: date) -> tuple[list[BillLine], list[BillRefund]]:
        """alipay.data.dataservice.bill.downloadurl.query, then the zip it links
        to (good for 30 s). The link comes in a signed answer; the file itself
        is not signed, so a line only ever names its own order (the notify
        path's checks decide)."""
        answer = await self._api(
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": day.isoformat()},
        )
        if answer.get("code") != "10000":
            raise GatewayUnavailable(f"code {answer.get('code')} {answer.get('sub_code')}")
        url = str(answer.get("bill_download_url") or "")
        if not url.startswith(("https://", "http://")):
            raise GatewayUnavailable("no bill_download_url in the answer")
        assert self._http is not None  # opened by _api
        try:
            response = await self._http.get(url)
        except httpx.HTTPError as exc:
            raise GatewayUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise GatewayUnavailable(f"the bill download answered {response.status_code}")
        return alipay_bill.parse_detail(alipay_bill.detail_text(response.content), day)

    async def _api(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        """One signed call through gateway.do; the answer's RSA2 signature checked."""
        if self._http is None:
            self._http = httpx.AsyncClient(transport=self._transport, timeout=10.0)
        signed = self._sdk.client_api(method, biz)
        try:
            response = await self._http.get(f"{self.gateway_url}?{signed}")
            raw = response.text
        except httpx.HTTPError as exc:
            raise GatewayUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return self._verified_answer(raw, method.replace(".", "_") + "_response")

    def _verified_answer(self, raw: str, response_key: str) -> dict[str, Any]:
        try:
            json.loads(raw)
            answer = self._sdk._verify_and_return_sync_response(raw, response_key)
        except AliPayValidationError as exc:
            raise GatewayUnavailable("the answer's signature does not verify") from exc
        except (AliPayException, ValueError, AttributeError, TypeError) as exc:
            raise GatewayUnavailable(f"unusable answer: {type(exc).__name__}") from exc
        if not isinstance(answer, dict):
            raise GatewayUnavailable("answer is not a JSON object")
        return answer

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def _cents(text: str) -> int | None:
    if not _AMOUNT.match(text):
        return None
    try:
        return parse_yuan(text)
    except MoneyFormatError:
        return None
