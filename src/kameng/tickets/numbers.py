"""Ticket numbers: ``T`` + 12 random digits + a Damm check digit.

The check digit (as in order numbers) makes a mistyped ticket number fail as
"mistyped" instead of opening somebody else's ticket.
"""

from __future__ import annotations

import re
import secrets

from kameng.kit.order_numbers import damm_digit, normalize

DIGITS = 13  # after the T, check digit included
_IN_TEXT = re.compile(r"T([0-9]{13})(?![0-9])")


def generate() -> str:
    body = str(10 ** (DIGITS - 2) + secrets.randbelow(9 * 10 ** (DIGITS - 2)))
    return "T" + body + str(damm_digit(body))


def is_valid(number: str) -> bool:
    digits = number[1:]
    return (
        number[:1] == "T"
        and len(digits) == DIGITS
        and digits.isascii()
        and digits.isdigit()
        and digits[0] != "0"
        and damm_digit(digits) == 0
    )


def find_in(text: str) -> str | None:
    """The ticket number in what a buyer typed or pasted ("工单号：t 1234-5678…"), if
    any is there (valid or not); None when nothing looks like one."""
    match = _IN_TEXT.search(normalize(text[:500]))
    return "T" + match.group(1) if match else None
