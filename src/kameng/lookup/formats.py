"""Numbers that are not this shop's order numbers, recognised by their shape.

Payment trade numbers (epay: payment time YYYYMMDDhhmmss + 5–6 digits; Alipay:
28 digits starting with the date; WeChat Pay transaction_id: 28 or 32 digits
starting with 4) and courier tracking numbers (SF, YTO, ZTO, JD, EMS, …). The
lookup uses them to say what the buyer typed when it finds no order.
"""

from __future__ import annotations

import re

_EPAY = re.compile(
    r"20\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([01]\d|2[0-3])[0-5]\d[0-5]\d\d{5,6}"
)
_ALIPAY = re.compile(r"20\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{20}")
_WECHAT = re.compile(r"4\d{27}|4\d{31}")

# Courier numbers (common Chinese carriers). Letter-prefixed shapes are
# certain; all-digit shapes are only a guess, made when nothing else matched.
COURIERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("SF", re.compile(r"SF\d{12,15}")),
    ("YTO", re.compile(r"YT\d{10,15}")),
    ("JD", re.compile(r"JD[A-Z]{0,2}\d{10,15}")),
    ("J&T", re.compile(r"JT\d{13}")),
    ("EMS", re.compile(r"[A-Z]{2}\d{9}CN")),
    ("Cainiao", re.compile(r"(LP|CNG?)\d{12,18}")),
    ("Deppon", re.compile(r"DPK\d{9,12}")),
)
_DIGIT_COURIERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ZTO", re.compile(r"7[35-8]\d{10,12}")),
    ("STO", re.compile(r"(77|66|55|88)\d{10,11}")),
    ("Yunda", re.compile(r"(31|43|46)\d{11}")),
    ("EMS", re.compile(r"1[01]\d{11}")),
)


def trade_gateways(text: str) -> list[str]:
    """Gateways whose trade-number shape ``text`` (digits) has."""
    found = []
    if _EPAY.fullmatch(text):
        found.append("epay")
    if _ALIPAY.fullmatch(text):
        found.append("alipay")
    if _WECHAT.fullmatch(text):
        found.append("wechat")
    return found


def courier(word: str) -> str | None:
    """The courier whose tracking-number shape ``word`` has (letters upper-cased)."""
    upper = word.upper()
    for name, pattern in COURIERS:
        if pattern.fullmatch(upper):
            return name
    if upper.isdigit():
        for name, pattern in _DIGIT_COURIERS:
            if pattern.fullmatch(upper):
                return name
    return None
