"""Money is integer cents (分). Decimal only at the edges, never float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_CENT = Decimal("0.01")


class MoneyFormatError(ValueError):
    pass


def parse_yuan(text: str) -> int:
    """'1', '1.5', '1.50' -> cents. Anything else (sub-cent, exponent, sign) is an error."""
    text = text.strip()
    if not text or len(text) > 20 or not all(c in "0123456789." for c in text):
        raise MoneyFormatError(text)
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise MoneyFormatError(text) from exc
    if value != value.quantize(_CENT):
        raise MoneyFormatError(text)
    return int(value * 100)


def format_yuan(cents: int) -> str:
    """Cents -> '12.30' (always two decimals, as gateways expect)."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"
