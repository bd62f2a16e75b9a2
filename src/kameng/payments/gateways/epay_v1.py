"""易支付 V1 (MD5) adapter: builds the signed submit.php link and checks notifies."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

import httpx

from kameng.kit.i18n import N_
from kameng.kit.money import MoneyFormatError, format_yuan, parse_yuan
from kameng.models.vocabulary import NotifyVerdict
from kameng.payments.gateways import epay_query, epay_sign
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

EPAY_TITLE = N_("Epay")
BILL_PAGE, BILL_MAX_PAGES = epay_query.BILL_PAGE, epay_query.BILL_MAX_PAGES


_REQUIRED = ("pid", "trade_no", "out_trade_no", "money", "trade_status", "sign")
_OUT_TRADE_NO = re.compile(r"^[a-zA-Z0-9._\-|]{1,64}$")


class EpayV1Gateway:
    direct_pay_link = True  # the link goes straight to the gateway

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        pid: str,
        key: str,
        pay_type: str = "alipay",
        title: str = EPAY_TITLE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not key:
            # Fail closed: a gateway with no key would accept unsigned notifies.
            raise ValueError(f"gateway {name}: merchant key is empty")
        self.name = name
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.pid = pid
        self._key = key
        self.pay_type = pay_type
        self.title = title
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    def pay_url(self, request: PayRequest) -> str:
        params = {
            "pid": self.pid,
            "type": self.pay_type,
            "out_trade_no": request.order_no,
            "notify_url": request.notify_url,
            "return_url": request.return_url,
            "name": request.subject[:40],
            "money": format_yuan(request.amount_cents),
        }
        params["sign"] = epay_sign.sign(params, self._key)
        params["sign_type"] = "MD5"
        return f"{self.base_url}submit.php?{urlencode(params)}"

    def notify_ack(self, acknowledged: bool, verdict: NotifyVerdict) -> NotifyAck:
        return text_ack(acknowledged)

    def parse_notify(self, notify: InboundNotify) -> VerifiedNotify:
        # epay V1 sends GET query fields; some forks POST a form: both are signed alike.
        params = notify.params
        out_trade_no = params.get("out_trade_no")
        trade_no = params.get("trade_no")
        missing = [f for f in _REQUIRED if not params.get(f)]
        if missing:
            raise NotifyRejected(
                NotifyVerdict.MALFORMED,
                f"missing {','.join(missing)}",
                out_trade_no=out_trade_no,
                trade_no=trade_no,
            )
        if params.get("sign_type", "MD5").upper() != "MD5":
            raise NotifyRejected(
                NotifyVerdict.BAD_SIGNATURE,
                "sign_type is not MD5",
                out_trade_no=out_trade_no,
                trade_no=trade_no,
            )
        if not epay_sign.verify(params, self._key):
            raise NotifyRejected(
                NotifyVerdict.BAD_SIGNATURE,
                "MD5 signature does not match",
                out_trade_no=out_trade_no,
                trade_no=trade_no,
            )
        if params["pid"] != self.pid:
            raise NotifyRejected(
                NotifyVerdict.WRONG_MERCHANT,
                f"pid {params['pid']} is not ours",
                out_trade_no=out_trade_no,
                trade_no=trade_no,
            )
        if params["trade_status"] != "TRADE_SUCCESS":
            raise NotifyRejected(
                NotifyVerdict.NOT_PAID,
                f"trade_status {params['trade_status']}",
                out_trade_no=out_trade_no,
                trade_no=trade_no,
            )
        assert out_trade_no is not None and trade_no is not None
        if not _OUT_TRADE_NO.match(out_trade_no) or len(trade_no) > 64:
            raise NotifyRejected(
                NotifyVerdict.MALFORMED,
                "bad out_trade_no or trade_no",
                out_trade_no=out_trade_no[:64],
                trade_no=trade_no[:64],
            )
        try:
            # Epay sends PHP floats ("1" for 1.00): compare as exact decimals.
            cents = parse_yuan(params["money"])
        except MoneyFormatError:
            raise NotifyRejected(
                NotifyVerdict.MALFORMED,
                f"money {params['money']!r}",
                out_trade_no=out_trade_no,
                trade_no=trade_no,
            ) from None
        return VerifiedNotify(
            out_trade_no=out_trade_no,
            trade_no=trade_no,
            amount_cents=cents,
            method=params.get("type", "") or "epay",
        )

    async def query(self, order_no: str) -> VerifiedNotify | None:
        """api.php?act=order: status 1 means paid. "订单号不存在" means the buyer
        never reached the cashier (or epay purged an unpaid order): not paid."""
        if self._http is None:
            # Explicit timeouts, no transport retries: the job asks again later.
            self._http = httpx.AsyncClient(transport=self._transport, timeout=10.0)
        params = {"act": "order", "pid": self.pid, "key": self._key, "out_trade_no": order_no}
        answer = await epay_query.json_object(
            self._http.get(f"{self.base_url}api.php", params=params)
        )
        if answer.get("code") != 1:
            if "不存在" in str(answer.get("msg", "")):
                return None
            raise GatewayUnavailable(f"code {answer.get('code')}: {answer.get('msg')}")
        return epay_query.paid_order(answer, order_no=order_no, pid=self.pid, method="epay")

    async def bill(self, day: date) -> list[BillLine]:
        """api.php?act=orders, newest first, 50 a page: the paid (1) and refunded
        (2) trades whose endtime falls on ``day``. Unsigned, so a line only ever
        names its own order and amount (settled through the usual checks)."""
        if self._http is None:
            self._http = httpx.AsyncClient(transport=self._transport, timeout=10.0)
        lines: list[BillLine] = []
        for page in range(BILL_MAX_PAGES):
            params = {
                "act": "orders",
                "pid": self.pid,
                "key": self._key,
                "limit": str(BILL_PAGE),
                "offset": str(page * BILL_PAGE),
            }
            try:
                response = await self._http.get(f"{self.base_url}api.php", params=params)
                answer: Any = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise GatewayUnavailable(f"{type(exc).__name__}: {exc}") from exc
            if not isinstance(answer, dict) or answer.get("code") != 1:
                raise GatewayUnavailable(f"orders answered {str(answer)[:200]}")
            if epay_query.collect_bill_page(answer, self.pid, day, lines):
                return lines
        raise GatewayUnavailable(f"more than {BILL_MAX_PAGES} pages of orders")

    async def refund(self, request: RefundRequest) -> RefundAnswer:
        """POST api.php?act=refund. V1 has no refund number: a repeated call
        refunds again, so an unanswered call is never repeated (the refund job
        leaves it ``submitted`` and ``query_refund`` cannot tell)."""
        if self._http is None:
            self._http = httpx.AsyncClient(transport=self._transport, timeout=10.0)
        form = {
            "pid": self.pid,
            "key": self._key,
            "out_trade_no": request.order_no,
            "money": format_yuan(request.amount_cents),
        }
        try:
            response = await self._http.post(
                f"{self.base_url}api.php", params={"act": "refund"}, data=form
            )
            answer: Any = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise GatewayUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(answer, dict) or "code" not in answer:
            raise GatewayUnavailable("answer is not a JSON object with a code")
        if answer.get("code") == 1:
            return RefundAnswer(RefundOutcome.SUCCEEDED)
        return RefundAnswer(RefundOutcome.REFUSED, detail=f"{answer.get('msg')}"[:200])

    async def query_refund(self, request: RefundRequest) -> RefundAnswer:
        raise GatewayUnavailable("epay V1 cannot be asked about a refund: check it by hand")

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
