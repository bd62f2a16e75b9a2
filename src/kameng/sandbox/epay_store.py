"""State and wire formats of the epay sandbox: trades, validation, notify delivery.

Everything here mirrors Rainbow Epay V1 (``submit.php``/``mapi.php``/``api.php``
and ``creat_callback``), including its PHP quirks where a merchant could
notice them: ``empty("0")`` is true, and ``money`` in a notify is a PHP float
(``1.00`` is sent as ``1``).
"""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import httpx

from kameng.kit.money import MoneyFormatError, format_yuan, parse_yuan
from kameng.payments.gateways import epay_sign
from kameng.sandbox.persist import JsonFile

CST = timezone(timedelta(hours=8), "Asia/Shanghai")
PAY_TYPES = {"alipay": "支付宝", "wxpay": "微信支付", "qqpay": "QQ钱包"}
NOTIFY_SCHEDULE_MINUTES = (0, 1, 3, 19, 55)
ACK_MARKERS = ("success", "SUCCESS", "Success")
REUSE_WINDOW = timedelta(days=10)
NAME_MAX_BYTES = 127
MAX_CENTS = 99_999_999_99  # decimal(10,2)
_OUT_TRADE_NO = re.compile(r"[a-zA-Z0-9._\-|]+")
_MONEY_CHARS = re.compile(r"[0-9.]+")
_INTVAL = re.compile(r"\s*([+-]?)(\d+)")

NOTIFY_PENDING, NOTIFY_ACKED, NOTIFY_GAVE_UP = 0, 1, -1
STATUS_UNPAID, STATUS_PAID, STATUS_REFUNDED = 0, 1, 2


class Rejected(Exception):
    """A request epay refuses; ``msg`` is exactly what real epay would say."""

    def __init__(self, msg: str, code: int = -1) -> None:
        super().__init__(msg)
        self.msg = msg
        self.code = code


def php_empty(value: str) -> bool:
    return value in ("", "0")


def php_money(cents: int) -> str:
    """How PHP prints a float amount: 100 -> '1', 150 -> '1.5', 1234 -> '12.34'."""
    whole, frac = divmod(cents, 100)
    if frac == 0:
        return str(whole)
    if frac % 10 == 0:
        return f"{whole}.{frac // 10}"
    return f"{whole}.{frac:02d}"


def php_intval(text: str) -> int:
    match = _INTVAL.match(text)
    if match is None:
        return 0
    digits = match.group(2)
    value = 10**18 if len(digits) > 18 else int(digits)
    return -value if match.group(1) == "-" else value


def wall(moment: datetime | None) -> str | None:
    """MySQL DATETIME as epay shows it, in China time."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(CST)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def truncate_bytes(text: str, limit: int) -> str:
    """mb_strcut(text, 0, limit, 'utf-8'): never splits a character."""
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit].decode(errors="ignore")


def _parse_money(text: str) -> int | None:
    if not _MONEY_CHARS.fullmatch(text):
        return None
    try:
        cents = parse_yuan(text)
    except MoneyFormatError:
        return None
    return cents if 0 < cents <= MAX_CENTS else None


@dataclass(frozen=True)
class CreateRequest:
    pid: str
    type: str
    out_trade_no: str
    notify_url: str
    return_url: str
    name: str
    cents: int
    param: str | None
    clientip: str
    device: str


def parse_create(
    params: Mapping[str, str], merchants: Mapping[str, str], *, api: bool
) -> CreateRequest:
    """Validate a submit.php (``api=False``) or mapi.php (``api=True``) request, in epay's order."""
    pid = params.get("pid", "")
    if php_empty(pid):
        raise Rejected("商户ID不能为空" if api else "PID不存在")
    key = merchants.get(pid)
    if key is None:
        raise Rejected("商户不存在！")
    if not epay_sign.verify(params, key):
        raise Rejected("签名校验失败，请返回重试！")
    get = params.get
    out_trade_no, notify_url = get("out_trade_no", ""), get("notify_url", "")
    return_url, name, money = get("return_url", ""), get("name", ""), get("money", "")
    pay_type, clientip = get("type", ""), get("clientip", "")
    if php_empty(out_trade_no):
        raise Rejected("订单号(out_trade_no)不能为空")
    if php_empty(notify_url):
        raise Rejected("通知地址(notify_url)不能为空")
    if not api and php_empty(return_url):
        raise Rejected("回调地址(return_url)不能为空")
    if php_empty(name):
        raise Rejected("商品名称(name)不能为空")
    if php_empty(money):
        raise Rejected("金额(money)不能为空")
    if api and php_empty(pay_type):
        raise Rejected("支付方式(type)不能为空")
    if api and php_empty(clientip):
        raise Rejected("用户IP地址(clientip)不能为空")
    cents = _parse_money(money)
    if cents is None:
        raise Rejected("金额不合法")
    if not _OUT_TRADE_NO.fullmatch(out_trade_no):
        raise Rejected("订单号(out_trade_no)格式不正确")
    return CreateRequest(
        pid=pid,
        type=pay_type if pay_type in PAY_TYPES else "",  # unknown type: the cashier asks
        out_trade_no=out_trade_no,
        notify_url=notify_url,
        return_url=return_url,
        name=truncate_bytes(name, NAME_MAX_BYTES),
        cents=cents,
        param=params.get("param"),
        clientip=clientip,
        device=get("device", "") or "pc",
    )


@dataclass
class NotifyAttempt:
    at: datetime
    url: str
    http_status: int | None
    error: str | None
    acked: bool
    body: str

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.at.isoformat(),
            "url": self.url,
            "http_status": self.http_status,
            "error": self.error,
            "acked": self.acked,
            "body": self.body,
        }


@dataclass
class Trade:
    trade_no: str
    out_trade_no: str
    pid: str
    type: str
    name: str
    cents: int
    notify_url: str
    return_url: str
    param: str | None
    clientip: str
    device: str
    addtime: datetime
    payurl: str
    endtime: datetime | None = None
    status: int = STATUS_UNPAID
    api_trade_no: str | None = None
    buyer: str | None = None
    notify: int = NOTIFY_PENDING
    delivering: bool = False
    attempts: list[NotifyAttempt] = field(default_factory=list)
    refunded_cents: int = 0  # api.php?act=refund; status 2 (已退款) once all is back
    refund_outcome: str = "refund_succeeds"  # see REFUND_OUTCOMES

    def order_json(self) -> dict[str, Any]:
        """One order as api.php shows it."""
        return {
            "trade_no": self.trade_no,
            "out_trade_no": self.out_trade_no,
            "api_trade_no": self.api_trade_no,
            "type": self.type or None,
            "pid": self.pid,
            "addtime": wall(self.addtime),
            "endtime": wall(self.endtime),
            "name": self.name,
            "money": format_yuan(self.cents),
            "param": self.param,
            "buyer": self.buyer,
            "status": self.status,
        }

    def to_file(self) -> dict[str, Any]:
        row = {f.name: getattr(self, f.name) for f in dataclass_fields(self)}
        row["addtime"] = self.addtime.isoformat()
        row["endtime"] = self.endtime.isoformat() if self.endtime else None
        row["delivering"] = False
        row["attempts"] = [a.as_json() for a in self.attempts]
        return row

    @classmethod
    def from_file(cls, row: dict[str, Any]) -> Trade:
        row = dict(row)
        row["addtime"] = datetime.fromisoformat(row["addtime"])
        row["endtime"] = datetime.fromisoformat(row["endtime"]) if row["endtime"] else None
        row["attempts"] = [
            NotifyAttempt(
                datetime.fromisoformat(a["time"]),
                a["url"],
                a["http_status"],
                a["error"],
                a["acked"],
                a["body"],
            )
            for a in row.get("attempts", [])
        ]
        return cls(**row)

    def sandbox_json(self) -> dict[str, Any]:
        return {
            **self.order_json(),
            "payurl": self.payurl,
            "notify_url": self.notify_url,
            "return_url": self.return_url,
            "clientip": self.clientip,
            "device": self.device,
            "notify": self.notify,
            "delivering": self.delivering,
            "refunded_cents": self.refunded_cents,
            "refund_outcome": self.refund_outcome,
            "notify_attempts": [a.as_json() for a in self.attempts],
        }


# What the sandbox does with a trade's next refunds. V1 refunds are synchronous
# and carry no refund number, so "late" can only mean: done, answer lost.
REFUND_OUTCOMES = {
    "refund_succeeds": "退款成功",
    "refund_late": "退款成功但应答丢失（504）",
    "refund_fails": "退款失败（商户余额不足，不退钱）",
}


@dataclass
class EpayStore:
    merchants: dict[str, str]
    clock: Callable[[], datetime]
    file: JsonFile = field(default_factory=lambda: JsonFile(None))
    trades: dict[str, Trade] = field(default_factory=dict)
    by_out: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Real epay keeps its orders in MySQL: a restarted sandbox must too.
        for row in self.file.load():
            trade = Trade.from_file(row)
            self.trades[trade.trade_no] = trade
            self.by_out[(trade.pid, trade.out_trade_no)] = trade.trade_no

    def save(self) -> None:
        self.file.save([t.to_file() for t in self.trades.values()])

    def key_matches(self, pid: str, key: str) -> bool:
        expected = self.merchants.get(pid, "")
        return bool(expected and key) and hmac.compare_digest(expected.encode(), key.encode())

    def refund(self, trade: Trade, money: str) -> dict[str, Any]:
        """api.php?act=refund: no refund number, so each call refunds again
        (as the real V1 does: the merchant must not repeat a call blindly)."""
        cents = _parse_money(money)
        if trade.status != STATUS_PAID:
            return {"code": -1, "msg": "该订单状态不支持退款"}
        if cents is None or cents <= 0:
            return {"code": -1, "msg": "退款金额输入不规范"}
        if cents > trade.cents - trade.refunded_cents:
            return {"code": -1, "msg": "退款金额不能大于订单可退金额"}
        if trade.refund_outcome == "refund_fails":
            return {"code": -1, "msg": "退款失败，商户余额不足"}
        trade.refunded_cents += cents
        if trade.refunded_cents == trade.cents:
            trade.status = STATUS_REFUNDED
        self.save()
        return {"code": 1, "msg": "退款成功！"}

    def get(self, trade_no: str) -> Trade | None:
        return self.trades.get(trade_no)

    def get_by_out(self, pid: str, out_trade_no: str) -> Trade | None:
        trade_no = self.by_out.get((pid, out_trade_no))
        return None if trade_no is None else self.trades[trade_no]

    def recent(self, pid: str | None = None) -> list[Trade]:
        return [t for t in reversed(self.trades.values()) if pid is None or t.pid == pid]

    def _new_number(self, digits: int) -> str:
        stamp = self.clock().astimezone(CST).strftime("%Y%m%d%H%M%S")
        return stamp + "".join(secrets.choice("0123456789") for _ in range(digits))

    def create_or_reuse(self, req: CreateRequest, payurl_base: str) -> Trade:
        now = self.clock()
        old = self.get_by_out(req.pid, req.out_trade_no)
        if old is not None and now - old.addtime < REUSE_WINDOW:
            if old.status > STATUS_UNPAID:
                raise Rejected(f"该订单({req.out_trade_no})已完成支付，请勿重复发起支付")
            if (
                old.cents != req.cents
                or old.name != req.name
                or old.notify_url != req.notify_url
                or old.return_url != req.return_url
                or (old.param or "") != (req.param or "")
            ):
                raise Rejected(
                    f"该订单({req.out_trade_no})支付参数有变化，请更换订单号重新发起支付"
                )
            old.type = req.type or old.type
            self.save()
            return old
        trade_no = self._new_number(6)
        while trade_no in self.trades:
            trade_no = self._new_number(6)
        trade = Trade(
            trade_no=trade_no,
            out_trade_no=req.out_trade_no,
            pid=req.pid,
            type=req.type,
            name=req.name,
            cents=req.cents,
            notify_url=req.notify_url,
            return_url=req.return_url,
            param=req.param,
            clientip=req.clientip,
            device=req.device,
            addtime=now,
            payurl=f"{payurl_base}cashier.php?trade_no={trade_no}",
        )
        self.trades[trade_no] = trade
        self.by_out[(req.pid, req.out_trade_no)] = trade_no
        self.save()
        return trade

    def mark_paid(self, trade: Trade, pay_type: str) -> bool:
        """True when this call paid the trade; False when it already was paid."""
        if trade.status != STATUS_UNPAID:
            return False
        if pay_type in PAY_TYPES:
            trade.type = pay_type
        if not trade.type:
            raise Rejected("请选择支付方式")
        trade.status = STATUS_PAID
        trade.endtime = self.clock()
        trade.api_trade_no = self._new_number(14)
        trade.buyer = "sandbox-buyer"
        self.save()
        return True

    def callback_fields(self, trade: Trade) -> dict[str, str]:
        """creat_callback: sorted signed fields, then sign and sign_type."""
        fields = {
            "pid": trade.pid,
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "type": trade.type,
            "name": trade.name,
            "money": php_money(trade.cents),
            "trade_status": "TRADE_SUCCESS",
            "param": trade.param or "",
        }
        fields = {k: v for k, v in sorted(fields.items()) if v != ""}
        fields["sign"] = epay_sign.sign(fields, self.merchants[trade.pid])
        fields["sign_type"] = "MD5"
        return fields

    def callback_url(self, trade: Trade, base: str) -> str:
        return with_query(base, urlencode(self.callback_fields(trade)))


class Notifier:
    """Async notify delivery with epay's retry schedule, scaled by ``time_scale``."""

    def __init__(
        self, store: EpayStore, time_scale: float, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self.store = store
        self.time_scale = time_scale
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, timeout=10)
        return self._client

    def resume(self) -> None:
        """After a restart: carry on notifying paid trades not yet acknowledged."""
        for trade in self.store.trades.values():
            if trade.status == STATUS_PAID and trade.notify == NOTIFY_PENDING:
                self.start(trade, skip=len(trade.attempts))

    def start(self, trade: Trade, *, skip: int = 0) -> None:
        schedule = self._schedule(trade, skip)
        task = asyncio.create_task(schedule, name=f"epay-notify-{trade.trade_no}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _schedule(self, trade: Trade, skip: int = 0) -> None:
        trade.delivering = True
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            base = NOTIFY_SCHEDULE_MINUTES[min(skip, len(NOTIFY_SCHEDULE_MINUTES) - 1)]
            for minutes in NOTIFY_SCHEDULE_MINUTES[skip:]:
                delay = started + (minutes - base) * 60 * self.time_scale - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if trade.notify == NOTIFY_ACKED or await self.attempt(trade):
                    return
            if trade.notify != NOTIFY_ACKED:  # a manual renotify may have landed meanwhile
                trade.notify = NOTIFY_GAVE_UP
                self.store.save()
        finally:
            trade.delivering = False

    async def attempt(self, trade: Trade) -> bool:
        """One GET to notify_url; acknowledged when the body contains 'success'."""
        url = self.store.callback_url(trade, trade.notify_url)
        at = self.store.clock()
        status: int | None = None
        error: str | None = None
        body = ""
        try:
            response = await self.client().get(url)
            status, body = response.status_code, response.text
        except Exception as exc:  # any failure is just a failed attempt
            error = f"{type(exc).__name__}: {exc}"[:300]
        acked = error is None and any(marker in body for marker in ACK_MARKERS)
        trade.attempts.append(NotifyAttempt(at, url, status, error, acked, body[:200]))
        if acked:
            trade.notify = NOTIFY_ACKED
        self.store.save()
        return acked

    async def aclose(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
