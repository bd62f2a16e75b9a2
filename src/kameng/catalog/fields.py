"""What the buyer fills in for a product (a top-up's phone number, game account
and server, …): declared per product (``products.buyer_fields``) as a list of
``{name, label_zh, label_en, pattern, example}``, checked before the order exists."""

from __future__ import annotations

import re
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


def validate(fields: list[BuyerField], given: dict[str, str] | None) -> dict[str, str]:
    """The buyer's values, trimmed, each fully matching its pattern; raises naming the field."""
    given = dict(given or {})
    known = {f.name for f in fields}
    for name in given:
        if name not in known:
            raise BuyerFieldUnknown(field=name)
    values: dict[str, str] = {}
    for f in fields:
        value = str(given.get(f.name) or "").strip()
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
