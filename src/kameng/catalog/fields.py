"""What the buyer fills in for a product (a top-up's phone number, game account
and server, …): declared per product (``products.buyer_fields``) as a list of
``{name, label_zh, label_en, pattern, example}``, checked before the order exists."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from kameng.catalog.errors import BuyerFieldInvalid, BuyerFieldMissing, BuyerFieldUnknown

MAX_VALUE = 128


@dataclass(frozen=True, slots=True)
class BuyerField:
    name: str
    label_zh: str
    label_en: str
    pattern: str  # a full match is required
    example: str

    def label(self, locale: str) -> str:
        return self.label_zh if locale.startswith("zh") else self.label_en


def parse_fields(raw: list[dict[str, Any]] | None) -> list[BuyerField]:
    return [
        BuyerField(
            name=str(f["name"]),
            label_zh=str(f.get("label_zh") or f["name"]),
            label_en=str(f.get("label_en") or f["name"]),
            pattern=str(f.get("pattern") or ".+"),
            example=str(f.get("example") or ""),
        )
        for f in raw or []
    ]


# Full-width digits (１３８…), as a Chinese input method types them, are the
# same digits: the lookup box takes them, so a top-up account does too.
_FULL_WIDTH = {ord("0") + i: chr(0xFF10 + i) for i in range(10)}


def half_width_digits(value: str) -> str:
    """``value`` with every decimal digit NFKC-normalised (１ → 1); nothing else changes."""
    return "".join(unicodedata.normalize("NFKC", c) if c.isdecimal() else c for c in value)


def browser_pattern(pattern: str) -> str:
    """``pattern`` for the form's ``pattern`` attribute: wherever it takes an ASCII
    digit it also takes the full-width one, which the server normalises
    (``half_width_digits``), so the browser does not refuse what the shop accepts."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            escaped = pattern[i : i + 2]
            if escaped == "\\d":
                out.append("0-9０-９" if in_class else "[0-9０-９]")
            else:
                out.append(escaped)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
                out.append(c)
            elif c.isascii() and c.isdigit():
                ranged = pattern[i + 1 : i + 3]
                if (
                    len(ranged) == 2
                    and ranged[0] == "-"
                    and ranged[1].isascii()
                    and ranged[1].isdigit()
                ):
                    out.append(
                        f"{c}-{ranged[1]}{c.translate(_FULL_WIDTH)}-{ranged[1].translate(_FULL_WIDTH)}"
                    )
                    i += 3
                    continue
                out.append(c + c.translate(_FULL_WIDTH))
            else:
                out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
        elif c == "{":  # a quantifier's digits are counts
            end = pattern.find("}", i)
            end = len(pattern) - 1 if end < 0 else end
            out.append(pattern[i : end + 1])
            i = end + 1
            continue
        elif c.isascii() and c.isdigit():
            out.append(f"[{c}{c.translate(_FULL_WIDTH)}]")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def validate(fields: list[BuyerField], given: dict[str, str] | None) -> dict[str, str]:
    """The buyer's values, trimmed and with half-width digits, each fully matching its
    pattern; raises naming the field."""
    given = dict(given or {})
    known = {f.name for f in fields}
    for name in given:
        if name not in known:
            raise BuyerFieldUnknown(field=name)
    values: dict[str, str] = {}
    for f in fields:
        value = half_width_digits(str(given.get(f.name) or "").strip())
        if not value:
            raise BuyerFieldMissing(labels=(f.label_zh, f.label_en), example=f.example)
        if (
            len(value) > MAX_VALUE
            or not value.isprintable()
            or re.fullmatch(f.pattern, value) is None
        ):
            raise BuyerFieldInvalid(labels=(f.label_zh, f.label_en), example=f.example)
        values[f.name] = value
    return values
