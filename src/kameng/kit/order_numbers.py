"""Order numbers: 16 digits, random, with a Damm check digit.

The Damm check digit detects every single-digit error and every transposition
of adjacent digits, so a mistyped number is recognised as such and never
silently finds somebody else's order.
"""

from __future__ import annotations

import secrets
import unicodedata

LENGTH = 16

# Damm's totally anti-symmetric quasigroup of order 10.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_digit(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][ord(ch) - 48]
    return interim


def is_valid(number: str) -> bool:
    return (
        len(number) == LENGTH
        and number.isascii()
        and number.isdigit()
        and (damm_digit(number) == 0)
    )


def generate() -> str:
    # One draw of 15 digits, first non-zero: 9e14 numbers, from the OS CSPRNG.
    body = str(10 ** (LENGTH - 2) + secrets.randbelow(9 * 10 ** (LENGTH - 2)))
    return body + str(damm_digit(body))


def normalize(text: str) -> str:
    """What a buyer typed -> ASCII digits and letters (full-width folded, separators gone)."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if ch.isalnum()).upper()


def near_misses(digits: str) -> list[str]:
    """Valid order numbers one typing mistake away from ``digits``.

    Covers a wrong digit, two swapped neighbours, one digit missing and one
    extra digit. Returns at most a few hundred candidates, to be checked
    against the database in one query.
    """
    if not digits.isdigit():
        return []
    candidates: set[str] = set()
    n = len(digits)
    if n == LENGTH:
        for i in range(n):
            for d in "0123456789":
                if d != digits[i]:
                    candidates.add(digits[:i] + d + digits[i + 1 :])
        for i in range(n - 1):
            candidates.add(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])
    elif n == LENGTH - 1:
        for i in range(n + 1):
            for d in "0123456789":
                candidates.add(digits[:i] + d + digits[i:])
    elif n == LENGTH + 1:
        for i in range(n):
            candidates.add(digits[:i] + digits[i + 1 :])
    candidates.discard(digits)
    return sorted(c for c in candidates if is_valid(c))
