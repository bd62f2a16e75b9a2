"""``kameng import-cards --product SKU FILE``: the command behind the bulk import.

``import_cards_command`` is a plain function (the typer app calls it): it
returns the exit code, prints the report on stdout and the progress bar on
stderr, in the operator's language (``KAMENG_LANG``, then ``LANG``; zh_CN).

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

from kameng.cardkeys.errors import (
    ImportRejected,
    StockChangedDuringImport,
    StockNeedsRekey,
    UnknownProduct,
)
from kameng.cardkeys.importer import ImportReport, import_card_keys
from kameng.config import Settings, get_settings
from kameng.db.embedded import resolve_database_url
from kameng.db.engine import libpq_url
from kameng.kit.crypto import CardKeyCipher
from kameng.kit.i18n import N_, Translator, locale_from_env, translator

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_INPUT = 2
EXIT_DATABASE = 3

SHOW_AT_MOST = 50  # line numbers printed per kind of duplicate / error

CANNOT_READ = N_("Cannot read file %(file)s: %(error)s")


def import_cards_command(
    product: str,
    file: Path,
    database_url: str | None,
    *,
    settings: Settings | None = None,
) -> int:
    """Import the card keys in ``file`` into product ``product`` (SKU)."""
    settings = settings or get_settings()
    t = translator(locale_from_env())
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    warn = _printer(err)
    try:
        handle = file.open("rb")
    except OSError as exc:
        warn(t(CANNOT_READ, file=file, error=exc.strerror or exc))
        return EXIT_INPUT
    with handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            head = handle.peek(4)[:4]
        except OSError as exc:
            warn(t(CANNOT_READ, file=file, error=exc))
            return EXIT_INPUT
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            warn(t(N_("%(file)s: the file is UTF-16; save it as UTF-8"), file=file))
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
                    cipher=settings.card_key_cipher(),
                    t=t,
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
    t: Translator,
    out: Console,
    err: Console,
) -> int:
    warn = _printer(err)
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
                task = progress.add_task(t(N_("reading and sealing")), total=size or None)

                def advance(_lines: int) -> None:
                    progress.update(task, completed=bytes_read[0])

                def phase(_name: str) -> None:
                    description = t(N_("writing to database"))
                    progress.update(task, completed=bytes_read[0], description=description)

                report = await import_card_keys(
                    conn,
                    product_sku=product,
                    lines=_decoded_lines(handle, bytes_read),
                    cipher=cipher,
                    progress=advance,
                    on_phase=phase,
                )
                progress.update(task, description=t(N_("done")))
    except UnknownProduct as exc:
        warn(exc.translated(t))
        return EXIT_INPUT
    except ImportRejected as exc:
        _print_rejection(out, t, file, exc)
        return EXIT_REJECTED
    except OSError as exc:
        message = N_("Error reading %(file)s, nothing imported: %(error)s")
        warn(t(message, file=file, error=exc))
        return EXIT_INPUT
    except StockNeedsRekey as exc:
        warn(exc.translated(t))
        return EXIT_INPUT
    except StockChangedDuringImport as exc:
        warn(exc.translated(t))
        return EXIT_DATABASE
    except psycopg.Error as exc:
        warn(t(N_("Database error, nothing imported: %(error)s"), error=exc))
        return EXIT_DATABASE
    _print_report(out, t, file, report)
    return EXIT_OK


def _decoded_lines(handle: IO[bytes], bytes_read: list[int]) -> Iterator[str]:
    """Physical lines (split on ``\\n`` only). Undecodable bytes become lone
    surrogates, which the importer reports as "not valid UTF-8" with the line."""
    for raw in handle:
        bytes_read[0] += len(raw)
        yield raw.decode("utf-8", "surrogateescape")


def _print_rejection(out: Console, t: Translator, file: Path, exc: ImportRejected) -> None:
    say = _printer(out)
    say(
        t.ngettext(
            "%(file)s: %(n)s malformed line, nothing imported",
            "%(file)s: %(n)s malformed lines, nothing imported",
            exc.total_errors,
            file=file,
        )
    )
    for error in exc.errors:
        line = t(
            N_("line %(line)s: %(reason)s: %(excerpt)s"),
            line=error.line_no,
            reason=error.message(t),
            excerpt=error.excerpt,
        )
        say(f"  {line}")
    if exc.total_errors > len(exc.errors):
        more = exc.total_errors - len(exc.errors)
        say("  " + t.ngettext("… and %(n)s more bad line", "… and %(n)s more bad lines", more))
    say(t(N_("Format: one “number password” per line (separated by a space, a tab or a comma)")))


def _print_report(out: Console, t: Translator, file: Path, report: ImportReport) -> None:
    say = _printer(out)
    in_file = report.duplicate_in_file
    in_stock = report.duplicate_in_stock
    say(
        t(
            N_(
                "%(file)s → %(sku)s: imported %(imported)s; duplicates within the file: "
                "%(in_file)s; already in stock: %(in_stock)s"
            ),
            file=file,
            sku=report.product_sku,
            imported=report.imported,
            in_file=len(in_file),
            in_stock=len(in_stock),
        )
    )
    if in_file:
        say(t(N_("Duplicates within the file (skipped):")))
        for line, first in in_file[:SHOW_AT_MOST]:
            say("  " + t(N_("line %(line)s repeats line %(first)s"), line=line, first=first))
        _more(say, t, len(in_file))
    if in_stock:
        say(t(N_("Already in stock (skipped):")))
        # TRANSLATORS: separates line numbers in a list ("3, 5, 8").
        separator = t(N_(", "))
        lines = separator.join(str(n) for n in in_stock[:SHOW_AT_MOST])
        say("  " + t.ngettext("line %(lines)s", "lines %(lines)s", len(in_stock), lines=lines))
        _more(say, t, len(in_stock))
    say(
        t(
            N_("%(total)s lines, %(blank)s blank"),
            total=report.total_lines,
            blank=report.blank_lines,
        )
    )


def _more(say: Callable[[str], None], t: Translator, total: int) -> None:
    if total > SHOW_AT_MOST:
        say("  " + t(N_("… and %(n)s more"), n=total - SHOW_AT_MOST))


def _printer(out: Console) -> Callable[[str], None]:
    def say(text: str) -> None:
        # File content may contain "[...]": never interpret it as rich markup.
        out.print(text, markup=False, soft_wrap=True)

    return say
