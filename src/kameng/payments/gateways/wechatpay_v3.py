"""WeChat Pay API v3 (微信支付) adapter: Native and H5 orders, notify, 主动查单.

Signature and AES-GCM come from ``wechatpayv3``; what it lacks is added here:
the platform serial is checked before the library sees it (an unknown serial
would make it fetch certificates, synchronously, from the real API), the
timestamp must be within 5 minutes of our clock, and the nonce is handed back
in ``VerifiedNotify.replay_nonce`` so the payments service records it in
PostgreSQL (shared by every process) and refuses it a second time.

Outbound calls (create, query) go over httpx: the library's client is
synchronous ``requests`` and would block the event loop.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from wechatpayv3.core import Core
from wechatpayv3.utils import load_private_key, load_public_key, rsa_sign, rsa_verify

from kameng.kit import clock
from kameng.kit.i18n import N_
from kameng.kit.money import MoneyFormatError, parse_yuan
from kameng.models.vocabulary import NotifyVerdict
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
    VerifiedRefundNotify,
)

WECHATPAY_TITLE = N_("WeChat Pay")
SCHEME = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_SECONDS = 300
_OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-*|]{6,32}$")
_NONCE = re.compile(r"^[\x21-\x7e]{1,64}$")
_PAID_STATES = ("SUCCESS", "REFUND")  # REFUND: paid, then (partly) refunded
# Refund notifies: 退款成功, 退款异常 (the money stays with the merchant), 退款关闭.
_REFUND_EVENTS = {
    "REFUND.SUCCESS": ("SUCCESS", RefundOutcome.SUCCEEDED),
    "REFUND.ABNORMAL": ("ABNORMAL", RefundOutcome.REFUSED),
    "REFUND.CLOSED": ("CLOSED", RefundOutcome.REFUSED),
}


@dataclass(frozen=True, slots=True)
class PaymentStart:
    """Where the buyer goes to pay: an H5 page to redirect to, or a Native
    ``code_url`` to show as a QR code; or, when WeChat says the trade is paid
    already (the buyer came back to the pay page), our return URL."""

    kind: str  # "redirect" | "qr" | "paid"
    url: str


class WechatPayV3Gateway:
    direct_pay_link = False  # the link is the shop's /o/{no}/pay

    def __init__(
        self,
        *,
        name: str,
        api_url: str,
        mchid: str,
        appid: str,
        merchant_serial_no: str,
        private_key_pem: str,
        apiv3_key: str,
        platform_public_key_pem: str,
        platform_public_key_id: str,
        title: str = WECHATPAY_TITLE,
        transport: httpx.AsyncBaseTransport | None = None,
        refund_notify_url: str = "",
    ) -> None:
        needed = {
            "mchid": mchid,
            "appid": appid,
            "merchant_serial_no": merchant_serial_no,
            "private key": private_key_pem,
            "APIv3 key": apiv3_key,
            "platform public key": platform_public_key_pem,
            "platform public key id": platform_public_key_id,
        }
        missing = [k for k, v in needed.items() if not v]
        if missing:  # fail closed: never verify against nothing
            raise ValueError(f"gateway {name}: missing {', '.join(missing)}")
        if len(apiv3_key.encode()) != 32:
            raise ValueError(f"gateway {name}: the APIv3 key must be 32 bytes")
        self.name = name
        self.title = title
        self.api_url = api_url.rstrip("/")
        self.mchid = mchid
        self.appid = appid
        self._serial_no = merchant_serial_no
        self._private_key = load_private_key(private_key_pem)
        self._platform_key = load_public_key(platform_public_key_pem)
        self.platform_key_id = platform_public_key_id
        # 微信支付公钥 mode: the library verifies and decrypts, no certificate download.
        self._core = Core(
            mchid=mchid,
            cert_serial_no=merchant_serial_no,
            private_key=private_key_pem,
            apiv3_key=apiv3_key,
            public_key=platform_public_key_pem,
            public_key_id=platform_public_key_id,
        )
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        # Where WeChat tells us a refund settled (POST /notify/{name}/refund);
        # empty: refunds are settled by asking only.
        self.refund_notify_url = refund_notify_url

    # -- paying -----------------------------------------------------------------

    def pay_url(self, request: PayRequest) -> str:
        """The shop's own page that creates the WeChat order when opened."""
        return request.start_url

    async def start_payment(
        self, request: PayRequest, *, mobile: bool, client_ip: str
    ) -> PaymentStart:
        """Create the Native (desktop) or H5 (phone browser) order at WeChat.

        An HTTP call: never run it inside a database transaction. Creating the
        same order again returns the same trade (WeChat keys it by out_trade_no).
        """
        body: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": request.subject[:40] or request.order_no,
            "out_trade_no": request.order_no,
            "notify_url": request.notify_url,
            "amount": {"total": request.amount_cents, "currency": "CNY"},
        }
        if mobile:
            body["scene_info"] = {"payer_client_ip": client_ip, "h5_info": {"type": "Wap"}}
        path = "/v3/pay/transactions/h5" if mobile else "/v3/pay/transactions/native"
        status, answer = await self._call("POST", path, body)
        if status != 200 and isinstance(answer, dict) and answer.get("code") == "ORDERPAID":
            # Paid, and the notify not processed yet: no error page (nothing is
            # wrong); the return URL asks WeChat at once.
            return PaymentStart("paid", request.return_url)
        if status != 200 or not isinstance(answer, dict):
            raise GatewayUnavailable(f"create answered {status}: {_error_text(answer)}")
        if mobile and isinstance(answer.get("h5_url"), str):
            redirect = quote(request.return_url, safe="")
            return PaymentStart("redirect", f"{answer['h5_url']}&redirect_url={redirect}")
        if not mobile and isinstance(answer.get("code_url"), str):
            return PaymentStart("qr", answer["code_url"])
        raise GatewayUnavailable("create answered without a payment URL")

    def sandbox_scan_url(self, code_url: str) -> str | None:
        """Demo only: the bundled sandbox's page that plays the buyer's phone
        scanning ``code_url``. None against the real API."""
        host = urlsplit(self.api_url).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1") and not host.endswith(".test"):
            return None
        return f"{self.api_url}/sandbox/scan?{urlencode({'code_url': code_url})}"

    # -- notify -----------------------------------------------------------------

    def parse_notify(self, notify: InboundNotify) -> VerifiedNotify:
        envelope, nonce = self._verified_envelope(notify)
        if envelope.get("event_type") != "TRANSACTION.SUCCESS":
            raise NotifyRejected(
                NotifyVerdict.NOT_PAID, f"event_type {str(envelope.get('event_type'))[:40]}"
            )
        verified = self._transaction(envelope["resource"], NotifyRejected)
        return VerifiedNotify(
            out_trade_no=verified.out_trade_no,
            trade_no=verified.trade_no,
            amount_cents=verified.amount_cents,
            method=verified.method,
            replay_nonce=nonce,
        )

    def parse_refund_notify(self, notify: InboundNotify) -> VerifiedRefundNotify:
        """A ``REFUND.*`` notify: the same header checks, signature and AES-GCM
        decryption as a payment notify; then the refund object's own checks."""
        envelope, nonce = self._verified_envelope(notify)
        event = str(envelope.get("event_type"))[:40]
        if event not in _REFUND_EVENTS:
            raise NotifyRejected(NotifyVerdict.MALFORMED, f"event_type {event} is not a refund")
        resource: dict[str, Any] = envelope["resource"]
        out_trade_no = str(resource.get("out_trade_no") or "")[:64] or None
        trade_no = str(resource.get("transaction_id") or "")[:64] or None

        def reject(verdict: NotifyVerdict, detail: str) -> NotifyRejected:
            return NotifyRejected(verdict, detail, out_trade_no=out_trade_no, trade_no=trade_no)

        if resource.get("mchid") != self.mchid:
            raise reject(
                NotifyVerdict.WRONG_MERCHANT, f"mchid {str(resource.get('mchid'))[:32]} is not ours"
            )
        status, outcome = _REFUND_EVENTS[event]
        if resource.get("refund_status") != status:
            raise reject(NotifyVerdict.MALFORMED, f"{event} with refund_status "
                         f"{str(resource.get('refund_status'))[:20]}")  # fmt: skip
        out_refund_no = str(resource.get("out_refund_no") or "")
        refund_id = str(resource.get("refund_id") or "")
        if not out_trade_no or not trade_no or not 0 < len(out_refund_no) <= 64:
            raise reject(
                NotifyVerdict.MALFORMED, "no out_trade_no, transaction_id or out_refund_no"
            )
        if not 0 < len(refund_id) <= 64:
            raise reject(NotifyVerdict.MALFORMED, "no refund_id")
        amount = resource.get("amount")
        refund = amount.get("refund") if isinstance(amount, dict) else None
        if not isinstance(refund, int) or isinstance(refund, bool) or refund <= 0:
            raise reject(NotifyVerdict.MALFORMED, "amount.refund is not a whole number of fen")
        return VerifiedRefundNotify(
            out_refund_no=out_refund_no,
            out_trade_no=out_trade_no,
            trade_no=trade_no,
            gateway_refund_no=refund_id,
            amount_cents=refund,
            outcome=outcome,
            replay_nonce=nonce,
        )

    def _verified_envelope(self, notify: InboundNotify) -> tuple[dict[str, Any], str]:
        """The decrypted notify of any event and its nonce, after the checks every
        notify passes: headers, platform serial, timestamp within 5 minutes,
        SHA256withRSA over timestamp, nonce and body, AES-256-GCM."""
        signature = notify.header("wechatpay-signature") or ""
        timestamp = notify.header("wechatpay-timestamp") or ""
        nonce = notify.header("wechatpay-nonce") or ""
        serial = notify.header("wechatpay-serial") or ""
        if not (signature and timestamp and nonce and serial):
            raise NotifyRejected(
                NotifyVerdict.BAD_SIGNATURE, "unsigned: Wechatpay-* headers missing"
            )
        if notify.header("wechatpay-signature-type") != SCHEME:  # sent with every notify
            raise NotifyRejected(NotifyVerdict.BAD_SIGNATURE, "signature type is not " + SCHEME)
        if serial != self.platform_key_id:
            raise NotifyRejected(
                NotifyVerdict.BAD_SIGNATURE, f"serial {serial[:64]!r} is not our platform key"
            )
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise NotifyRejected(NotifyVerdict.MALFORMED, "Wechatpay-Timestamp is not a Unix time")
        skew = abs(int(timestamp) - clock.now().timestamp())
        if skew > MAX_SKEW_SECONDS:
            raise NotifyRejected(
                NotifyVerdict.STALE_TIMESTAMP, f"timestamp {int(skew)} s from our clock"
            )
        if not _NONCE.match(nonce):
            raise NotifyRejected(NotifyVerdict.MALFORMED, "Wechatpay-Nonce is not a nonce")
        try:
            body = notify.body.decode("utf-8")
        except UnicodeDecodeError:
            raise NotifyRejected(NotifyVerdict.BAD_SIGNATURE, "body is not UTF-8") from None
        if notify.method != "POST":
            raise NotifyRejected(
                NotifyVerdict.MALFORMED, f"{notify.method} is not how WeChat notifies"
            )
        if not rsa_verify(timestamp, nonce, body, signature, self._platform_key):
            raise NotifyRejected(
                NotifyVerdict.BAD_SIGNATURE, "SHA256withRSA signature does not match"
            )
        try:
            envelope = self._core.callback(dict(notify.headers), body)
        except Exception as exc:  # an algorithm the library refuses, JSON it cannot read
            raise NotifyRejected(
                NotifyVerdict.MALFORMED, f"unreadable: {type(exc).__name__}"
            ) from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("resource"), dict):
            raise NotifyRejected(
                NotifyVerdict.MALFORMED, "resource cannot be decrypted with the APIv3 key"
            )
        return envelope, nonce

    def notify_ack(self, acknowledged: bool, verdict: NotifyVerdict) -> NotifyAck:
        """200/204 stops WeChat's retries; 4xx/5xx with {code: FAIL} asks for one."""
        if acknowledged:
            return NotifyAck(204, b"", "application/json")
        status = 500 if verdict == NotifyVerdict.ERROR else 400
        message = json.dumps({"code": "FAIL", "message": verdict}).encode()
        return NotifyAck(status, message, "application/json")

    def _transaction(self, resource: dict[str, Any], error: Any) -> VerifiedNotify:
        """The checks a transaction object passes, from a notify or a query answer."""
        out_trade_no = str(resource.get("out_trade_no") or "")[:64] or None
        trade_no = str(resource.get("transaction_id") or "")[:64] or None

        def reject(verdict: NotifyVerdict, detail: str) -> Exception:
            if error is NotifyRejected:
                return NotifyRejected(verdict, detail, out_trade_no=out_trade_no, trade_no=trade_no)
            exc: Exception = error(f"{verdict}: {detail}")
            return exc

        if resource.get("mchid") != self.mchid:
            raise reject(
                NotifyVerdict.WRONG_MERCHANT, f"mchid {str(resource.get('mchid'))[:32]} is not ours"
            )
        if resource.get("appid") != self.appid:
            raise reject(
                NotifyVerdict.WRONG_MERCHANT, f"appid {str(resource.get('appid'))[:32]} is not ours"
            )
        if resource.get("trade_state") not in _PAID_STATES:
            raise reject(
                NotifyVerdict.NOT_PAID, f"trade_state {str(resource.get('trade_state'))[:20]}"
            )
        if not out_trade_no or not _OUT_TRADE_NO.match(out_trade_no) or not trade_no:
            raise reject(NotifyVerdict.MALFORMED, "bad out_trade_no or transaction_id")
        amount = resource.get("amount")
        total = amount.get("total") if isinstance(amount, dict) else None
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise reject(NotifyVerdict.MALFORMED, "amount.total is not a whole number of fen")
        if isinstance(amount, dict) and amount.get("currency", "CNY") != "CNY":
            raise reject(NotifyVerdict.MALFORMED, f"currency {str(amount.get('currency'))[:8]}")
        trade_type = str(resource.get("trade_type") or "").lower()[:20]
        return VerifiedNotify(
            out_trade_no=out_trade_no,
            trade_no=trade_no,
            amount_cents=total,
            method=f"wechat_{trade_type}" if trade_type else "wechat",
        )

    # -- 主动查单 ------------------------------------------------------------------

    async def query(self, order_no: str) -> VerifiedNotify | None:
        if not _OUT_TRADE_NO.match(order_no):
            return None
        path = f"/v3/pay/transactions/out-trade-no/{order_no}?{urlencode({'mchid': self.mchid})}"
        status, answer = await self._call("GET", path, None)
        if status == 404 and isinstance(answer, dict) and answer.get("code") == "ORDER_NOT_EXIST":
            return None  # the buyer never opened the pay page
        if status != 200 or not isinstance(answer, dict):
            raise GatewayUnavailable(f"query answered {status}: {_error_text(answer)}")
        if answer.get("out_trade_no") != order_no:
            raise GatewayUnavailable("the answer is about another order")
        if answer.get("trade_state") not in _PAID_STATES:
            return None
        return self._transaction(answer, GatewayUnavailable)

    # -- refunds ------------------------------------------------------------------

    async def refund(self, request: RefundRequest) -> RefundAnswer:
        payload: dict[str, Any] = {
            "out_trade_no": request.order_no,
            "out_refund_no": request.refund_no,
            "reason": request.reason[:80],
            "amount": {
                "refund": request.amount_cents,
                "total": request.paid_cents,
                "currency": "CNY",
            },
        }
        if self.refund_notify_url:
            payload["notify_url"] = self.refund_notify_url
        status, answer = await self._call("POST", "/v3/refund/domestic/refunds", payload)
        if status in (400, 403, 404) and isinstance(answer, dict):
            # A business refusal (amount over the refundable rest, trade unknown…).
            return RefundAnswer(RefundOutcome.REFUSED, detail=_error_text(answer))
        return self._refund_answer(status, answer, request)

    async def query_refund(self, request: RefundRequest) -> RefundAnswer:
        path = f"/v3/refund/domestic/refunds/{quote(request.refund_no, safe='')}"
        status, answer = await self._call("GET", path, None)
        if (
            status == 404
            and isinstance(answer, dict)
            and answer.get("code") == "RESOURCE_NOT_EXISTS"
        ):
            return RefundAnswer(RefundOutcome.UNKNOWN, detail=_error_text(answer))
        return self._refund_answer(status, answer, request)

    def _refund_answer(self, status: int, answer: Any, request: RefundRequest) -> RefundAnswer:
        if status != 200 or not isinstance(answer, dict):
            raise GatewayUnavailable(f"refund answered {status}: {_error_text(answer)}")
        amount = answer.get("amount")
        if (
            answer.get("out_refund_no") != request.refund_no
            or not isinstance(amount, dict)
            or amount.get("refund") != request.amount_cents
        ):
            raise GatewayUnavailable("the refund answer is about another refund or amount")
        refund_id = str(answer.get("refund_id") or "")[:64] or None
        state = answer.get("status")
        if state == "SUCCESS":
            return RefundAnswer(RefundOutcome.SUCCEEDED, refund_id)
        if state in ("ABNORMAL", "CLOSED"):
            return RefundAnswer(RefundOutcome.REFUSED, refund_id, f"refund {state}")
        return RefundAnswer(RefundOutcome.PENDING, refund_id, f"refund {state}")

    # -- 对账 ---------------------------------------------------------------------

    async def bill(self, day: date) -> list[BillLine]:
        return _bill_lines(await self._bill_text(day), day)

    async def bill_refunds(self, day: date) -> list[BillRefund]:
        return _bill_refunds(await self._bill_text(day), day)

    async def _bill_text(self, day: date) -> str:
        """The trade bill: GET /v3/bill/tradebill (signed answer with the file's
        SHA1), then the file itself (not signed: checked against that hash)."""
        path = f"/v3/bill/tradebill?{urlencode({'bill_date': day.isoformat()})}"
        status, answer = await self._call("GET", path, None)
        if status != 200 or not isinstance(answer, dict):
            raise GatewayUnavailable(f"tradebill answered {status}: {_error_text(answer)}")
        url, expected = str(answer.get("download_url") or ""), answer.get("hash_value")
        if not url.startswith(self.api_url + "/"):
            raise GatewayUnavailable("the bill is not on the API host")
        file_path = url.removeprefix(self.api_url)
        assert self._http is not None  # opened by _call
        try:
            response = await self._http.get(
                url, headers={"Authorization": self._authorization("GET", file_path, "")}
            )
        except httpx.HTTPError as exc:
            raise GatewayUnavailable(f"{type(exc).__name__}: {exc}") from exc
        text = response.text
        if response.status_code != 200 or hashlib.sha1(text.encode()).hexdigest() != expected:
            raise GatewayUnavailable("the bill file does not match its signed hash")
        return text

    # -- HTTP ---------------------------------------------------------------------

    def _authorization(self, method: str, path: str, body: str) -> str:
        timestamp = str(int(clock.now().timestamp()))
        nonce = secrets.token_hex(16).upper()
        message = f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"
        signature = rsa_sign(self._private_key, message)
        return (
            f'{SCHEME} mchid="{self.mchid}",nonce_str="{nonce}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{self._serial_no}"'
        )

    async def _call(
        self, method: str, path: str, payload: dict[str, Any] | None
    ) -> tuple[int, Any]:
        """One signed call; the answer's own signature is checked before it is read."""
        if self._http is None:
            # Explicit timeouts, no transport retries: the caller asks again later.
            self._http = httpx.AsyncClient(transport=self._transport, timeout=10.0)
        body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
        headers = {
            "Authorization": self._authorization(method, path, body),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Wechatpay-Serial": self.platform_key_id,
        }
        try:
            response = await self._http.request(
                method, self.api_url + path, content=body.encode(), headers=headers
            )
        except httpx.HTTPError as exc:
            raise GatewayUnavailable(f"{type(exc).__name__}: {exc}") from exc
        text = response.text
        if not self._signed_by_platform(response.headers, text):
            raise GatewayUnavailable(f"answer {response.status_code} is not signed by WeChat Pay")
        try:
            return response.status_code, json.loads(text) if text else None
        except ValueError as exc:
            raise GatewayUnavailable("answer is not JSON") from exc

    def _signed_by_platform(self, headers: httpx.Headers, body: str) -> bool:
        timestamp = headers.get("wechatpay-timestamp", "")
        if headers.get("wechatpay-serial") != self.platform_key_id or not timestamp.isdigit():
            return False
        if abs(int(timestamp) - clock.now().timestamp()) > MAX_SKEW_SECONDS:
            return False
        return bool(
            rsa_verify(
                timestamp,
                headers.get("wechatpay-nonce", ""),
                body,
                headers.get("wechatpay-signature", ""),
                self._platform_key,
            )
        )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def _bill_lines(text: str, day: date) -> list[BillLine]:
    """Paid (SUCCESS) rows of a trade bill CSV; cells carry a leading backtick."""
    rows = [line.split(",") for line in text.splitlines()[1:] if line]
    lines = []
    for row in rows:
        cells = [c.removeprefix("`") for c in row]
        if len(cells) < 25 or cells[9] != "SUCCESS":
            continue  # the summary block, refunds, anything else
        try:
            cents = parse_yuan(cells[24])
            paid_on = date.fromisoformat(cells[0][:10])
        except (MoneyFormatError, ValueError):
            continue
        if paid_on == day and cells[5] and cells[6]:
            raw = dict(zip(("time", "transaction_id", "out_trade_no", "total"),
                           (cells[0], cells[5], cells[6], cells[24]), strict=True))  # fmt: skip
            lines.append(BillLine(cells[6], cells[5], cents, paid_on, raw))
    return lines


def _bill_refunds(text: str, day: date) -> list[BillRefund]:
    """Refund rows (交易状态 REFUND, 退款状态 SUCCESS) of the day's trade bill:
    商户退款单号 is the number we gave, 申请退款金额 the amount."""
    refunds = []
    for line in text.splitlines()[1:]:
        cells = [c.removeprefix("`") for c in line.split(",")]
        if len(cells) < 26 or cells[9] != "REFUND" or cells[19] != "SUCCESS":
            continue
        try:
            cents = parse_yuan(cells[25])
            on = date.fromisoformat(cells[0][:10])
        except (MoneyFormatError, ValueError):
            continue
        if on == day and cells[5] and cells[6] and cells[15]:
            names = ("time", "transaction_id", "out_trade_no", "refund_id", "out_refund_no")
            raw = dict(
                zip(names, (cells[0], cells[5], cells[6], cells[14], cells[15]), strict=True)
            )
            raw["refund"] = cells[25]
            refunds.append(BillRefund(cells[6], cells[5], cells[15], cents, raw))
    return refunds


def _error_text(answer: Any) -> str:
    if isinstance(answer, dict):
        return f"{answer.get('code')} {answer.get('message')}"[:200]
    return "no JSON object"
