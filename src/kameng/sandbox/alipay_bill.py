"""The Alipay trade bill (对账单) as ``alipay.data.dataservice.bill.downloadurl.query``
hands it out: a short-lived download URL to a zip holding two GBK-encoded CSV
files, ``{pid}_{yyyyMMdd}_业务明细.csv`` (one row per payment or refund, between
``#`` comment lines) and ``…_业务明细(汇总).csv`` (the totals).

Cells that are numbers-as-text carry a trailing tab, as Alipay's own files do
(so a spreadsheet keeps the 28-digit trade numbers); readers strip every cell.
The real platform serves a day's bill from 10:00 the next day; the sandbox
builds it on demand, today's included, so a test can reconcile at once.
"""

from __future__ import annotations

import io
import re
import secrets
import zipfile
from datetime import date, datetime, timedelta

from kameng.sandbox.alipay_store import AlipayStore, business, invalid, wall, yuan

URL_LIFETIME = timedelta(seconds=30)  # Alipay: the link expires after 30 s
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

DETAIL_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,"
    "终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)
RULE = "#-----------------------------------------{}----------------------------------------"


def bill_day(biz: dict[str, object], today: date) -> date:
    """``bill_type=trade`` and a ``yyyy-MM-dd`` day not in the future (monthly
    bills, ``yyyy-MM``, are not built by the sandbox)."""
    if biz.get("bill_type") not in ("trade", "signcustomer"):
        raise invalid("isv.invalid-parameter", "bill_type 不合法")
    text = str(biz.get("bill_date") or "")
    if not _DAY.match(text):
        raise invalid("isv.invalid-parameter", "bill_date 格式错误")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise invalid("isv.invalid-parameter", "bill_date 格式错误") from None
    if day > today:
        raise business("isp.bill_not_exist", "账单不存在")
    return day


class BillTokens:
    """Download links handed out, each good for 30 s (sandbox clock)."""

    def __init__(self) -> None:
        self._links: dict[str, tuple[date, datetime]] = {}

    def issue(self, day: date, now: datetime) -> str:
        token = secrets.token_hex(16)
        self._links[token] = (day, now + URL_LIFETIME)
        return token

    def redeem(self, token: str, now: datetime) -> date | None:
        found = self._links.get(token)
        if found is None or found[1] < now:
            return None
        return found[0]


def _cell(value: str, *, text: bool = False) -> str:
    value = value.replace(",", "，").replace("\n", " ")
    return f"{value}\t" if text else value


def detail_csv(store: AlipayStore, day: date, now: datetime) -> str:
    """The 业务明细 file: payments completed and refunds made on ``day`` (China time)."""
    prefix = day.isoformat()
    rows: list[tuple[str, list[str]]] = []
    for trade in store.trades.values():
        if trade.paid_at and trade.paid_at.startswith(prefix):
            cells = [
                _cell(trade.trade_no, text=True), _cell(trade.out_trade_no, text=True), "交易",
                _cell(trade.subject), trade.created, trade.paid_at, "", "", "", "",
                "sandbox***@alipay.test", yuan(trade.cents), yuan(trade.cents), "0.00", "0.00",
                "0.00", "0.00", "0.00", "", "0.00", "0.00", "",
                "-" + yuan(trade.cents * 6 // 1000), "0.00", "",
            ]  # fmt: skip
            rows.append((trade.paid_at, cells))
        for refund in trade.refunds:
            if refund.at.startswith(prefix) and not refund.processing:
                cells = [
                    _cell(trade.trade_no, text=True), _cell(trade.out_trade_no, text=True),
                    "退款", _cell(trade.subject), trade.created, refund.at, "", "", "", "",
                    "sandbox***@alipay.test", yuan(trade.cents), "-" + yuan(refund.cents),
                    "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00",
                    _cell(refund.out_request_no, text=True), "0.00", "0.00", "",
                ]  # fmt: skip
                rows.append((refund.at, cells))
    rows.sort(key=lambda r: r[0])
    paid = sum(1 for _, c in rows if c[2] == "交易")
    start = f"{day:%Y年%m月%d日} 00:00:00"
    end = f"{day + timedelta(days=1):%Y年%m月%d日} 00:00:00"
    lines = [
        "#支付宝业务明细查询",
        f"#账号：[{store.seller_id}0156]",
        f"#起始日期：[{start}]   终止日期：[{end}]",
        RULE.format("业务明细列表"),
        DETAIL_HEADER,
        *(",".join(cells) for _, cells in rows),
        RULE.format("业务明细列表结束"),
        f"#交易合计：{paid}笔，退款合计：{len(rows) - paid}笔",
        f"#导出时间：[{wall(now)}]",
    ]
    return "\r\n".join(lines) + "\r\n"


def summary_csv(store: AlipayStore, day: date, now: datetime, detail: str) -> str:
    paid = refunded = 0
    count_paid = count_refunds = 0
    for line in detail.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) == 25 and cells[2] == "交易":
            count_paid += 1
            paid += int(cells[11].replace(".", ""))
        elif len(cells) == 25 and cells[2] == "退款":
            count_refunds += 1
            refunded += int(cells[12].removeprefix("-").replace(".", ""))
    return (
        "\r\n".join(
            [
                "#支付宝业务汇总查询",
                f"#账号：[{store.seller_id}0156]",
                f"#起始日期：[{day:%Y年%m月%d日} 00:00:00]   "
                f"终止日期：[{day + timedelta(days=1):%Y年%m月%d日} 00:00:00]",
                RULE.format("业务汇总列表"),
                "门店编号,门店名称,交易订单总笔数,退款订单总笔数,已收入金额（元）,已退款金额（元）",
                f"合计,,{count_paid},{count_refunds},{yuan(paid)},{yuan(refunded)}",
                RULE.format("业务汇总列表结束"),
                f"#导出时间：[{wall(now)}]",
            ]
        )
        + "\r\n"
    )


def bill_zip(store: AlipayStore, day: date, now: datetime) -> tuple[str, bytes]:
    """(file name, zip bytes): both CSV files encoded in GBK."""
    stem = f"{store.seller_id}0156_{day:%Y%m%d}"
    detail = detail_csv(store, day, now)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{stem}_业务明细.csv", detail.encode("gbk", "replace"))
        archive.writestr(
            f"{stem}_业务明细(汇总).csv",
            summary_csv(store, day, now, detail).encode("gbk", "replace"),
        )
    return f"{stem}.csv.zip", buffer.getvalue()
