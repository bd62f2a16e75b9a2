"""What number did the buyer mean? Candidates from text as people paste it.

Buyers paste the number with its label ("订单号：1234 5678 …", "Order No.: …"),
from a receipt that holds other numbers (amount, date, phone), and type
letters that look like digits (O for 0, l for 1, S for 5 …). This module turns
such text into candidate digit strings; the service checks them against the
database. Nothing here decides which order is meant: a candidate only finds an
order when it is a valid, existing number, and the Damm check digit makes a
corrupted string land on another existing order with negligible probability.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kameng.kit import order_numbers

MAX_TEXT = 2000

# Letters (and a bar) that people type, or OCR reads, for digits.
LOOKALIKES = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "Q": "0",
        "D": "0",
        "I": "1",
        "i": "1",
        "l": "1",
        "|": "1",
        "Z": "2",
        "z": "2",
        "S": "5",
        "s": "5",
        "G": "6",
        "b": "6",
        "B": "8",
        "g": "9",
        "q": "9",
    }
)
_TOKEN = re.compile(r"[0-9A-Za-z|]+")
# What may stand between the groups of one number: spaces, dashes, dots.
_JOINABLE_GAP = re.compile(r"[\s\-_.·/]{1,3}")
# Words that say the buyer is looking for a parcel.
_TRACKING_WORDS = re.compile(
    r"快递|物流|运单|发货单|包裹|tracking|courier|shipping|shipment|parcel|delivery\s*no",
    re.IGNORECASE,
)
_CHUNK = re.compile(r"[\s,;]+")
# A run of digit-like characters never needs to be longer than this.
_MAX_RUN = 40


@dataclass(frozen=True, slots=True)
class Extracted:
    folded: str  # NFKC-folded text, control characters dropped
    numbers: list[str]  # digit strings of plausible order-number length, best first
    long_numbers: list[str]  # digit strings of 18+ digits (trade numbers)
    words: list[str]  # alphanumeric tokens as typed (trade numbers, card keys, couriers)
    chunks: list[str]  # whitespace/comma-separated pieces as typed (card keys)
    asks_tracking: bool


def fold(text: str) -> str:
    """Full-width → ASCII, control characters dropped, length capped."""
    printable = "".join(ch for ch in text[:MAX_TEXT] if ch.isprintable() or ch in "\n\t")
    return unicodedata.normalize("NFKC", printable).strip()


def _as_digits(token: str) -> str | None:
    """The token read as digits, or None when it is a word.

    A token needs at least one real digit to start a number: "is", "SOS" or
    "ID" stay words. Short all-letter tokens may still join a number they
    touch (see ``_groups``), as in "1234-5678-9012-345S".
    """
    if not any(ch.isdigit() for ch in token):
        return None
    mapped = token.translate(LOOKALIKES)
    return mapped if mapped.isdigit() else None


def _letters_as_digits(token: str) -> str | None:
    mapped = token.translate(LOOKALIKES)
    return mapped if len(token) <= 4 and mapped.isdigit() else None


def _groups(folded: str) -> list[list[str]]:
    """Runs of numeric tokens separated only by spaces, dashes or dots.

    Groups are generous (a neighbouring word read as digits may join one):
    ``_spans`` tries every sub-run, so an extra piece never hides the number.
    """
    groups: list[list[str]] = []
    current: list[str] = []
    pending: str | None = None  # all-letter piece that may start the next number
    last_end = -1
    for match in _TOKEN.finditer(folded):
        token = match.group()
        gap = folded[last_end : match.start()] if last_end >= 0 else ""
        joinable = last_end >= 0 and (gap == "" or _JOINABLE_GAP.fullmatch(gap) is not None)
        digits = _as_digits(token)
        if digits is None:
            letters = _letters_as_digits(token)
            if letters is not None and current and joinable:
                current.append(letters)
            else:
                if current:
                    groups.append(current)
                current = []
                pending = letters
            last_end = match.end()
            continue
        if current and not joinable:
            groups.append(current)
            current = []
        if not current and pending is not None and joinable:
            current.append(pending)
        pending = None
        current.append(digits[:_MAX_RUN])
        last_end = match.end()
    if current:
        groups.append(current)
    return groups


def _spans(group: list[str], lo: int, hi: int) -> list[str]:
    """Concatenations of consecutive tokens whose length is in [lo, hi]."""
    found: list[str] = []
    for i in range(len(group)):
        joined = ""
        for token in group[i:]:
            joined += token
            if len(joined) > hi:
                break
            if len(joined) >= lo:
                found.append(joined)
    return found


def _windows(run: str) -> list[str]:
    """Valid order numbers hidden inside a longer run of digits (number glued to
    an amount or a date)."""
    n = order_numbers.LENGTH
    return [
        run[i : i + n] for i in range(len(run) - n + 1) if order_numbers.is_valid(run[i : i + n])
    ]


def extract(text: str) -> Extracted:
    folded = fold(text)
    numbers: list[str] = []
    long_numbers: list[str] = []
    for group in _groups(folded):
        whole = "".join(group)
        numbers.extend(_spans(group, order_numbers.LENGTH - 1, order_numbers.LENGTH + 1))
        long_numbers.extend(_spans(group, order_numbers.LENGTH + 2, 32))
        for token in group:
            if len(token) > order_numbers.LENGTH + 1:
                numbers.extend(_windows(token))
        if len(whole) > order_numbers.LENGTH + 1:
            numbers.extend(_windows(whole))
    # Valid numbers first: they can be looked up directly.
    unique = list(dict.fromkeys(numbers))
    unique.sort(key=lambda n: not order_numbers.is_valid(n))
    words = list(dict.fromkeys(_TOKEN.findall(folded)))[:50]
    return Extracted(
        folded=folded,
        numbers=unique[:40],
        long_numbers=list(dict.fromkeys(long_numbers))[:20],
        words=words,
        chunks=list(dict.fromkeys(c.strip(".,;:") for c in _CHUNK.split(folded) if c))[:30],
        asks_tracking=_TRACKING_WORDS.search(folded) is not None,
    )
