"""``kameng import-cards --product SKU FILE``: the command behind the bulk import.

``import_cards_command`` is a plain function (the typer app calls it): it
returns the exit code, prints the report on stdout and the progress bar on
stderr.

Exit codes: 0 imported (duplicates skipped are not failures), 1 file rejected
(malformed lines, nothing imported), 2 unknown product or unreadable file,
3 database error (nothing imported).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import psycopg
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from kameng.cardkeys.errors import ImportRejected, StockChangedDuringImport, UnknownProduct
from kameng.cardkeys.importer import ImportReport, import_card_keys
from kameng.config import Settings, get_settings
from kameng.db.embedded import resolve_database_url
from kameng.db.engine import libpq_url
from kameng.kit.crypto import CardKeyCipher
from kameng.kit.i18n import translator

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_INPUT = 2
EXIT_DATABASE = 3

SHOW_AT_MOST = 50  # line numbers printed per kind of duplicate / error


def import_cards_command(
    product: str,
    file: Path,
    database_url: str | None,
    *,
    settings: Settings | None = None,
) -> int:
    """Import the card keys in ``file`` into product ``product`` (SKU)."""
    settings = settings or get_settings()
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        handle = file.open("rb")
    except OSError as exc:
        err.print(f"无法读取文件 / cannot read file {file}: {exc.strerror or exc}", markup=False)
        return EXIT_INPUT
    with handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            head = handle.peek(4)[:4]
        except OSError as exc:
            err.print(f"无法读取文件 / cannot read file {file}: {exc}", markup=False)
            return EXIT_INPUT
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            err.print(
                f"{file}: 文件是 UTF-16 编码，请另存为 UTF-8 / "
                "the file is UTF-16; save it as UTF-8",
                markup=False,
            )
            return EXIT_INPUT
        url, server = resolve_database_url(database_url or settings.database_url, settings.data_dir)
        try:
            return asyncio.run(
                _run(
                    url,
                    product=product,
                    file=file,
                    handle=handle,
                    size=size,
                    cipher=CardKeyCipher(settings.aes_key()),
                    out=out,
                    err=err,
                )
            )
        finally:
            del server  # an embedded server stops with its last handle


async def _run(
    url: str,
    *,
    product: str,
    file: Path,
    handle: IO[bytes],
    size: int,
    cipher: CardKeyCipher,
    out: Console,
    err: Console,
) -> int:
    bytes_read = [0]
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    try:
        async with await psycopg.AsyncConnection.connect(
            libpq_url(url), autocommit=True, application_name="kameng import-cards"
        ) as conn:
            with progress:
                task = progress.add_task("读取并加密 / reading and sealing", total=size or None)

                def advance(_lines: int) -> None:
                    progress.update(task, completed=bytes_read[0])

                def phase(_name: str) -> None:
                    description = "写入数据库 / writing to database"
                    progress.update(task, completed=bytes_read[0], description=description)

                report = await import_card_keys(
                    conn,
                    product_sku=product,
                    lines=_decoded_lines(handle, bytes_read),
                    cipher=cipher,
                    progress=advance,
                    on_phase=phase,
                )
                progress.update(task, description="完成 / done")
    except UnknownProduct as exc:
        err.print(f"没有商品 {exc.sku} / no product with SKU {exc.sku}", markup=False)
        return EXIT_INPUT
    except ImportRejected as exc:
        _print_rejection(out, file, exc)
        return EXIT_REJECTED
    except OSError as exc:
        err.print(
            f"读取文件出错，未导入任何卡密 / error reading {file}, nothing imported: {exc}",
            markup=False,
        )
        return EXIT_INPUT
    except (psycopg.Error, StockChangedDuringImport) as exc:
        err.print(
            f"数据库错误，未导入任何卡密 / database error, nothing imported: {exc}", markup=False
        )
        return EXIT_DATABASE
    _print_report(out, file, report)
    return EXIT_OK


def _decoded_lines(handle: IO[bytes], bytes_read: list[int]) -> Iterator[str]:
    """Physical lines (split on ``\\n`` only). Undecodable bytes become lone
    surrogates, which the importer reports as "not valid UTF-8" with the line."""
    for raw in handle:
        bytes_read[0] += len(raw)
        yield raw.decode("utf-8", "surrogateescape")


def _print_rejection(out: Console, file: Path, exc: ImportRejected) -> None:
    say = _printer(out)
    say(
        f"{file}: {exc.total_errors} 行格式错误，未导入任何卡密 / "
        f"{exc.total_errors} malformed line(s), nothing imported"
    )
    zh, en = translator("zh_CN"), translator("en")
    for error in exc.errors:
        say(
            f"  第 {error.line_no} 行: {error.message(zh)} / "
            f"line {error.line_no}: {error.message(en)}: {error.excerpt}"
        )
    if exc.total_errors > len(exc.errors):
        more = exc.total_errors - len(exc.errors)
        say(f"  …… 另有 {more} 行错误未列出 / and {more} more")
    say("每行格式: 卡号 密码（空格、制表符或逗号分隔）/ format: number password per line")


def _print_report(out: Console, file: Path, report: ImportReport) -> None:
    say = _printer(out)
    in_file = report.duplicate_in_file
    in_stock = report.duplicate_in_stock
    say(
        f"{file} → {report.product_sku}: 导入 {report.imported} 条 / imported {report.imported}; "
        f"文件内重复 {len(in_file)} 条 / duplicates within the file: {len(in_file)}; "
        f"与库存重复 {len(in_stock)} 条 / already in stock: {len(in_stock)}"
    )
    if in_file:
        say("文件内重复（已跳过）/ duplicates within the file (skipped):")
        for line, first in in_file[:SHOW_AT_MOST]:
            say(f"  第 {line} 行同第 {first} 行 / line {line} repeats line {first}")
        _more(say, len(in_file))
    if in_stock:
        say("与库存重复（已跳过）/ already in stock (skipped):")
        shown = in_stock[:SHOW_AT_MOST]
        numbers = ", ".join(str(n) for n in shown)
        say(f"  第 {'、'.join(str(n) for n in shown)} 行 / lines {numbers}")
        _more(say, len(in_stock))
    say(
        f"共 {report.total_lines} 行，空行 {report.blank_lines} / "
        f"{report.total_lines} lines, {report.blank_lines} blank"
    )


def _more(say: Callable[[str], None], total: int) -> None:
    if total > SHOW_AT_MOST:
        say(f"  …… 另有 {total - SHOW_AT_MOST} 条 / and {total - SHOW_AT_MOST} more")


def _printer(out: Console) -> Callable[[str], None]:
    def say(text: str) -> None:
        # File content may contain "[...]": never interpret it as rich markup.
        out.print(text, markup=False, soft_wrap=True)

    return say
