"""Reading Alipay's trade bill: a zip holding ``…_业务明细.csv`` (GBK, ``#``
comment lines above and below the table, cells padded with tabs) and a
``…(汇总).csv`` summary we do not need. Rows of 业务类型 ``交易`` are payments
(订单金额), rows of ``退款`` are refunds (商家实收 is the negative refund,
退款批次号/请求号 the ``out_request_no`` we sent)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date

from kameng.kit.money import MoneyFormatError, parse_yuan
from kameng.payments.gateways.base import BillLine, BillRefund, GatewayUnavailable

MAX_ZIP_BYTES = 50 * 1024 * 1024
_OUT_TRADE_NO = re.compile(r"^[a-zA-Z0-9_\-]{1,64}$")
COLUMNS = {
    "trade_no": "支付宝交易号",
    "out_trade_no": "商户订单号",
    "kind": "业务类型",
    "finished": "完成时间",
    "total": "订单金额（元）",
    "received": "商家实收（元）",
    "request_no": "退款批次号/请求号",
}


def detail_text(archive_bytes: bytes) -> str:
    """The 业务明细 CSV of the archive, decoded from GBK."""
    if len(archive_bytes) > MAX_ZIP_BYTES:
        raise GatewayUnavailable("the bill archive is too large")
    try:
        # Alipay writes GBK file names without zip's UTF-8 flag.
        with zipfile.ZipFile(io.BytesIO(archive_bytes), metadata_encoding="gbk") as archive:
            names = [
                n for n in archive.namelist() if n.endswith("业务明细.csv") and "汇总" not in n
            ]
            if len(names) != 1:
                raise GatewayUnavailable(f"no single 业务明细 file in the bill: {names}")
            info = archive.getinfo(names[0])
            if info.file_size > MAX_ZIP_BYTES:
                raise GatewayUnavailable("the bill file is too large")
            raw = archive.read(info)
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise GatewayUnavailable(f"the bill is not a readable zip: {exc}") from exc
    try:
        return raw.decode("gb18030")  # GBK's superset: never fails on a valid GBK file
    except UnicodeDecodeError as exc:
        raise GatewayUnavailable("the bill is not GBK text") from exc


def parse_detail(text: str, day: date) -> tuple[list[BillLine], list[BillRefund]]:
    """Payments and refunds finished on ``day``; comment lines and anything
    unreadable are left out (the operator sees the raw file at Alipay)."""
    table = [line for line in text.splitlines() if line and not line.startswith("#")]
    rows = list(csv.reader(table))
    if not rows or rows[0][:1] != [COLUMNS["trade_no"]]:
        raise GatewayUnavailable("the bill has no 业务明细 header")
    header = [cell.strip() for cell in rows[0]]
    try:
        at = {key: header.index(title) for key, title in COLUMNS.items()}
    except ValueError as exc:
        raise GatewayUnavailable(f"the bill lacks a column: {exc}") from exc
    payments: list[BillLine] = []
    refunds: list[BillRefund] = []
    for row in rows[1:]:
        cells = [cell.strip() for cell in row]
        if len(cells) != len(header):
            continue
        get = {key: cells[index] for key, index in at.items()}
        if not _OUT_TRADE_NO.match(get["out_trade_no"]) or not 0 < len(get["trade_no"]) <= 64:
            continue
        try:
            finished_on = date.fromisoformat(get["finished"][:10])
            total = parse_yuan(get["total"])
            received = parse_yuan(get["received"].removeprefix("-"))
        except (MoneyFormatError, ValueError):
            continue
        if finished_on != day:
            continue
        raw = {key: value for key, value in get.items()}
        if get["kind"] == "交易":
            payments.append(BillLine(get["out_trade_no"], get["trade_no"], total, day, raw))
        elif get["kind"] == "退款" and get["request_no"]:
            refunds.append(
                BillRefund(get["out_trade_no"], get["trade_no"], get["request_no"], received, raw)
            )
    return payments, refunds
