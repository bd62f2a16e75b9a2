"""Bulk import of card keys (卡密) from a text file: one ``number password`` per line.

One pass over the lines, one transaction:

1. each line is parsed, fingerprinted and sealed (AES-GCM, bound to the row
   by product id and fingerprint) in Python, and the
   first occurrence of every card number is streamed with binary COPY into a
   temporary table; plaintext never reaches the database;
2. a malformed line anywhere rejects the whole file: the rest of the file is
   still read (so every bad line is reported at once), then the transaction
   rolls back;
3. lines already in stock are found with one join and dropped, the rest goes
   into ``card_keys`` with one ``INSERT … SELECT`` in file order (so keys are
   sold in the order the merchant listed them);
4. a restock job is deferred and ``card_keys`` analysed, in the same
   transaction, so waiting orders are served as soon as the keys are visible.

Duplicates are not errors: a repeated card number (in the file or already in
stock) is skipped and reported with its line numbers, so re-importing a file is
harmless.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

from kameng.cardkeys import import_repository as repo
from kameng.cardkeys.errors import (
    MAX_FIELD_CHARS,
    ImportRejected,
    MalformedLine,
    MalformedLineError,
    StockChangedDuringImport,
    StockNeedsRekey,
    UnknownProduct,
)
from kameng.cardkeys.rekey import stock_needs_rekey
from kameng.db.jobs import JobName, defer
from kameng.kit import clock
from kameng.kit.crypto import CardKeyCipher

MAX_REPORTED_ERRORS = 50
EXCERPT_CHARS = 60
PROGRESS_EVERY = 8192

# Number and password are separated by whitespace (spaces, tabs, the full-width
# space U+3000) or by one comma, ASCII or full-width, with optional blanks
# around it. ``a,,b`` is three fields, one of them empty: malformed.
_SEPARATOR = re.compile(r"\s*[,，]\s*|\s+")
_COMMAS = (",", "，")
# Characters that make a line malformed when they are not separators: C0/C1
# controls, invisible format characters (zero-width space, bidi overrides,
# a BOM in mid-file) and the Unicode line/paragraph separators.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


@dataclass
class ImportReport:
    product_sku: str
    imported: int
    duplicate_in_file: list[tuple[int, int]]  # (line, line of first occurrence)
    duplicate_in_stock: list[int]  # lines whose card number is already in stock
    total_lines: int  # physical lines read, blank ones included
    product_id: int = 0
    blank_lines: int = 0


def _control_reason(text: str) -> str | None:
    if text.isprintable():  # fast path: no control, format or exotic space character
        return None
    for char in text:
        if char == "\t":
            continue
        category = unicodedata.category(char)
        if category == "Cs":  # lone surrogate: undecodable byte (surrogateescape)
            return "invalid_utf8"
        if category in _CONTROL_CATEGORIES:
            return "control_character"
    return None


def parse_line(line: str) -> tuple[str, str] | None:
    """``(number, password)``, or None for a blank line.

    Raises MalformedLineError with a REASONS code. A trailing ``\\n`` or
    ``\\r\\n`` is ignored; any other control character is an error.
    """
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    reason = _control_reason(line)
    if reason is not None:
        raise MalformedLineError(reason)
    text = line.strip()
    if not text:
        return None
    has_comma = _COMMAS[0] in text or _COMMAS[1] in text
    fields = _SEPARATOR.split(text) if has_comma else text.split()
    if len(fields) == 1:
        raise MalformedLineError("missing_password")
    if len(fields) > 2:
        raise MalformedLineError("too_many_fields")
    number, password = fields
    if not number:
        raise MalformedLineError("missing_number")
    if not password:
        raise MalformedLineError("missing_password")
    if len(number) > MAX_FIELD_CHARS or len(password) > MAX_FIELD_CHARS:
        raise MalformedLineError("field_too_long")
    return number, password


def excerpt(line: str, limit: int = EXCERPT_CHARS) -> str:
    """The line as a reader should see it: controls escaped, cut at ``limit``."""
    line = line.rstrip("\r\n")
    shown = "".join(c if c.isprintable() or c in " \u3000" else ascii(c)[1:-1] for c in line)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


async def import_card_keys(
    conn: psycopg.AsyncConnection[Any],
    *,
    product_sku: str,
    lines: Iterable[str],
    cipher: CardKeyCipher,
    progress: Callable[[int], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import ``lines`` into the stock of ``product_sku``, all or nothing.

    Runs in its own transaction block: a transaction if ``conn`` is idle, a
    savepoint inside the caller's transaction otherwise. ``progress`` is called
    with the number of lines read so far (every few thousand lines and at the
    end of the file); ``on_phase("database")`` once the file is read and the
    database work starts.

    Raises UnknownProduct or StockNeedsRekey (before reading any line),
    ImportRejected (after reading every line) or StockChangedDuringImport;
    nothing is written then.
    """
    now = clock.now()
    async with conn.transaction():
        product_id = await repo.product_id_by_sku(conn, product_sku)
        if product_id is None:
            raise UnknownProduct(product_sku)
        if await stock_needs_rekey(conn, cipher):
            raise StockNeedsRekey()
        await repo.lock_product_imports(conn, product_id)
        await repo.create_staging_table(conn)

        errors: list[MalformedLine] = []
        total_errors = 0
        blank = 0
        copied = 0
        line_no = 0
        duplicate_in_file: list[tuple[int, int]] = []
        first_seen: dict[bytes, int] = {}  # fingerprint -> line of first occurrence
        fingerprint = cipher.fingerprint
        seal = cipher.seal

        async with repo.copy_into_staging(conn) as copy:
            copy.set_types(["int4", "bytea", "bytea"])
            write_row = copy.write_row
            for line_no, line in enumerate(lines, 1):
                if progress is not None and line_no % PROGRESS_EVERY == 0:
                    progress(line_no)
                if line_no == 1 and line.startswith("\ufeff"):
                    line = line[1:]
                try:
                    pair = parse_line(line)
                except MalformedLineError as exc:
                    total_errors += 1
                    if len(errors) < MAX_REPORTED_ERRORS:
                        errors.append(MalformedLine(line_no, exc.reason, excerpt(line)))
                    continue
                if pair is None:
                    blank += 1
                    continue
                if total_errors:
                    continue  # rejected already: only look for more bad lines
                number, password = pair
                key = fingerprint(number)
                first = first_seen.setdefault(key, line_no)
                if first != line_no:
                    duplicate_in_file.append((line_no, first))
                    continue
                await write_row(
                    (line_no, key, seal(number, password, product_id=product_id, fingerprint=key))
                )
                copied += 1
        del first_seen
        if progress is not None:
            progress(line_no)
        if total_errors:
            raise ImportRejected(product_sku, errors, total_errors)

        if on_phase is not None:
            on_phase("database")
        duplicate_in_stock = await repo.drop_stock_duplicates(conn, product_id)
        expected = copied - len(duplicate_in_stock)
        inserted = await repo.insert_staged(conn, product_id, now)
        if inserted != expected:
            raise StockChangedDuringImport(expected=expected, inserted=inserted)
        if expected:
            await _defer_restock(conn, product_id)
            await repo.analyze_stock(conn)

    return ImportReport(
        product_sku=product_sku,
        imported=expected,
        duplicate_in_file=duplicate_in_file,
        duplicate_in_stock=duplicate_in_stock,
        total_lines=line_no,
        product_id=product_id,
        blank_lines=blank,
    )


async def _defer_restock(conn: psycopg.AsyncConnection[Any], product_id: int) -> None:
    """Defer the job that serves orders waiting for this product's stock, in the
    import's transaction: the keys and the job that hands them out commit together.
    (By name: fulfilment, which defines the job, sits above card keys.)"""
    await defer(conn, JobName.RESTOCK, queueing_lock=f"restock:{product_id}", product_id=product_id)
