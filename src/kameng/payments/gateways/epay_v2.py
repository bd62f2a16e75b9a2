"""易支付 V2 (RSA) adapter: SHA256withRSA both ways, ``timestamp`` within ±300 s.

Requests are signed with the merchant's private key; notifies and answers are
signed with the platform's key and verified with its public key. The platform
may add fields at any time, so a notify is verified over whatever arrived.
The pay link carries a timestamp that goes stale after 5 minutes, so the order
page links to the shop's own ``/o/{no}/pay``, which signs a fresh one.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import date
from functools import partial
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kameng.kit import clock
from kameng.kit.i18n import N_
from kameng.kit.money import MoneyFormatError, format_yuan, parse_yuan
from kameng.models.vocabulary import NotifyVerdict
from kameng.payments.gateways import epay_query
from kameng.payments.gateways.base import (
    BillLine,
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

EPAY_V2_TITLE = N_("Epay V2")
MAX_SKEW_SECONDS = 300
_REQUIRED = ("pid", "trade_no", "out_trade_no", "money", "trade_status", "timestamp", "sign")
_OUT_TRADE_NO = re.compile(r"^[a-zA-Z0-9._\-|]{1,64}$")


def signing_string(params: Mapping[str, Any]) -> str:
    """ASCII-sorted ``k=v`` of the non-empty scalar fields but sign/sign_type, raw values."""
    return "&".join(
        f"{k}={params[k]}"
        for k in sorted(params)
        if k not in ("sign", "sign_type")
        and not isinstance(params[k], (list, dict))
        and params[k] is not None
        and str(params[k]) != ""
    )


class EpayV2Gateway:
    direct_pay_link = False  # the link is the shop's /o/{no}/pay

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        pid: str,
        merchant_private_key: str,
        platform_public_key: str,
        pay_type: str = "alipay",
        title: str = EPAY_V2_TITLE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not (pid and merchant_private_key.strip() and platform_public_key.strip()):
            raise ValueError(f"gateway {name}: pid and both keys are required")
        private = serialization.load_pem_private_key(merchant_private_key.encode(), None)
        public = serialization.load_pem_public_key(platform_public_key.encode())
        if not isinstance(private, rsa.RSAPrivateKey) or not isinstance(public, rsa.RSAPublicKey):
            raise ValueError(f"gateway {name}: keys must be RSA")
        self.name = name
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.pid = pid
        self.pay_type = pay_type
        self.title = title
        self._private = private
        self._public = public
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    # -- signatures --------------------------------------------------------------

    def _signed(self, params: dict[str, str]) -> dict[str, str]:
        params = params | {"timestamp": str(int(clock.now().timestamp()))}
        signature = self._private.sign(
            signing_string(params).encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return params | {"sign": base64.b64encode(signature).decode(), "sign_type": "RSA"}

    def _verifies(self, params: Mapping[str, Any]) -> bool:
        try:
            signature = base64.b64decode(str(params.get("sign", "")).encode(), validate=True)
            self._public.verify(
                signature, signing_string(params).encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError):
            return False
        return True

    def _fresh(self, timestamp: str) -> bool:
        if not timestamp.isdigit() or len(timestamp) > 12:
            return False
        return abs(clock.now().timestamp() - int(timestamp)) <= MAX_SKEW_SECONDS

    # -- paying ------------------------------------------------------------------

    def pay_url(self, request: PayRequest) -> str:
        # A signed link is good for 5 minutes only; the shop's start page signs anew.
        return request.start_url or self.fresh_pay_url(request)

    def fresh_pay_url(self, request: PayRequest) -> str:
        params = self._signed(
            {
                "pid": self.pid,
                "type": self.pay_type,
                "out_trade_no": request.order_no,
                "notify_url": request.notify_url,
                "return_url": request.return_url,
                "name": request.subject[:40],
                "money": format_yuan(request.amount_cents),
            }
        )
        return f"{self.base_url}api/pay/submit?{urlencode(params)}"

    # -- the async notify -------------------------------------------------------

    def notify_ack(self, acknowledged: bool, verdict: NotifyVerdict) -> NotifyAck:
        return text_ack(acknowledged)

    def parse_notify(self, notify: InboundNotify) -> VerifiedNotify:
        params = notify.params
        reject = partial(NotifyRejected.naming, params)
        out_trade_no, trade_no = params.get("out_trade_no"), params.get("trade_no")

        missing = [f for f in _REQUIRED if not params.get(f)]
        if missing:
            raise reject(NotifyVerdict.MALFORMED, f"missing {','.join(missing)}")
        if params.get("sign_type", "RSA") != "RSA":
            raise reject(NotifyVerdict.BAD_SIGNATURE, "sign_type is not RSA")
        if not self._verifies(params):
            raise reject(NotifyVerdict.BAD_SIGNATURE, "RSA signature does not verify")
        if not self._fresh(params["timestamp"]):
            raise reject(NotifyVerdict.STALE_TIMESTAMP, f"timestamp {params['timestamp'][:20]}")
        if params["pid"] != self.pid:
            raise reject(NotifyVerdict.WRONG_MERCHANT, f"pid {params['pid']} is not ours")
        if params["trade_status"] != "TRADE_SUCCESS":
            raise reject(NotifyVerdict.NOT_PAID, f"trade_status {params['trade_status']}")
        assert out_trade_no is not None and trade_no is not None
        if not _OUT_TRADE_NO.match(out_trade_no) or len(trade_no) > 64:
            raise reject(NotifyVerdict.MALFORMED, "bad out_trade_no or trade_no")
        try:
            cents = parse_yuan(params["money"])
        except MoneyFormatError:
            raise reject(NotifyVerdict.MALFORMED, f"money {params['money']!r}") from None
        return VerifiedNotify(
            out_trade_no=out_trade_no,
            trade_no=trade_no,
            amount_cents=cents,
            method=params.get("type", "") or "epay_v2",
        )

    # -- 主动查单 -------------------------------------------------------------------

    async def query(self, order_no: str) -> VerifiedNotify | None:
        """api/pay/query; the answer is signed by the platform (unlike V1's)."""
        form = self._signed({"pid": self.pid, "out_trade_no": order_no})
        answer = await self._post("api/pay/query", form)
        if answer.get("code") != 0:
            if "不存在" in str(answer.get("msg", "")):
                return None
            raise GatewayUnavailable(f"code {answer.get('code')}: {answer.get('msg')}")
        if not self._verifies(answer):
            raise GatewayUnavailable("the answer's signature does not verify")
        return epay_query.paid_order(answer, order_no=order_no, pid=self.pid, method="epay_v2")

    # -- the bill (对账) -------------------------------------------------------------

    async def bill(self, day: date) -> list[BillLine]:
        """api/merchant/orders, 50 a page, newest first: the paid (1) and refunded
        (2) trades whose ``endtime`` falls on ``day``, each with its refunded
        total (``refundmoney``). V2 signs scalar fields only, so ``data`` is not
        covered by the signature: a line only ever names its own order."""
        lines: list[BillLine] = []
        for page in range(epay_query.BILL_MAX_PAGES):
            form = self._signed(
                {
                    "pid": self.pid,
                    "offset": str(page * epay_query.BILL_PAGE),
                    "limit": str(epay_query.BILL_PAGE),
                }
            )
            answer = await self._post("api/merchant/orders", form)
            if answer.get("code") != 0:
                raise GatewayUnavailable(f"orders: code {answer.get('code')}: {answer.get('msg')}")
            if not self._verifies(answer):
                raise GatewayUnavailable("the answer's signature does not verify")
            if epay_query.collect_bill_page(answer, self.pid, day, lines):
                return lines
        raise GatewayUnavailable(f"more than {epay_query.BILL_MAX_PAGES} pages of orders")

    async def _post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        if self._http is None:
            self._http = httpx.AsyncClient(transport=self._transport, timeout=10.0)
        return await epay_query.json_object(self._http.post(f"{self.base_url}{path}", data=form))

    # -- refunds -----------------------------------------------------------------

    async def refund(self, request: RefundRequest) -> RefundAnswer:
        """api/pay/refund, idempotent by out_refund_no; the answer is signed."""
        form = self._signed(
            {
                "pid": self.pid,
                "out_trade_no": request.order_no,
                "money": format_yuan(request.amount_cents),
                "out_refund_no": request.refund_no,
            }
        )
        answer = await self._post("api/pay/refund", form)
        if answer.get("code") != 0:
            return RefundAnswer(RefundOutcome.REFUSED, detail=f"{answer.get('msg')}"[:200])
        if not self._verifies(answer):
            raise GatewayUnavailable("the answer's signature does not verify")
        if str(answer.get("out_refund_no")) != request.refund_no or str(
            answer.get("money")
        ) != format_yuan(request.amount_cents):
            raise GatewayUnavailable("the refund answer is about another refund or amount")
        return RefundAnswer(
            RefundOutcome.SUCCEEDED, str(answer.get("refund_no") or "")[:64] or None
        )

    async def query_refund(self, request: RefundRequest) -> RefundAnswer:
        """api/pay/refundquery by out_refund_no (signed both ways): status 1 is
        refunded, 0 failed; "退款单不存在" means the request never arrived; any
        other refusal (say, still processing) leaves it unknown."""
        form = self._signed({"pid": self.pid, "out_refund_no": request.refund_no})
        answer = await self._post("api/pay/refundquery", form)
        if answer.get("code") != 0:
            if "不存在" in str(answer.get("msg", "")):
                return RefundAnswer(RefundOutcome.UNKNOWN, detail=str(answer.get("msg"))[:200])
            raise GatewayUnavailable(f"code {answer.get('code')}: {answer.get('msg')}")
        if not self._verifies(answer):
            raise GatewayUnavailable("the answer's signature does not verify")
        if str(answer.get("out_refund_no")) != request.refund_no or str(
            answer.get("money")
        ) != format_yuan(request.amount_cents):
            raise GatewayUnavailable("the refund answer is about another refund or amount")
        refund_no = str(answer.get("refund_no") or "")[:64] or None
        if str(answer.get("status")) == "1":
            return RefundAnswer(RefundOutcome.SUCCEEDED, refund_no)
        return RefundAnswer(RefundOutcome.REFUSED, refund_no, "refund status 0 (failed)")

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
