from __future__ import annotations

import pytest

from kameng.kit.money import MoneyFormatError, format_yuan, parse_yuan


@pytest.mark.parametrize(
    ("text", "cents"), [("1", 100), ("1.5", 150), ("1.50", 150), ("0.01", 1), ("12345.67", 1234567)]
)
def test_parse_yuan(text: str, cents: int) -> None:
    assert parse_yuan(text) == cents


@pytest.mark.parametrize(
    "text", ["", "1.001", "-1", "1e2", "abc", "1,00", "NaN", "Infinity", "1.2.3", "１"]
)
def test_parse_yuan_refuses(text: str) -> None:
    with pytest.raises(MoneyFormatError):
        parse_yuan(text)


def test_format_yuan() -> None:
    assert [format_yuan(c) for c in (0, 1, 100, 2105)] == ["0.00", "0.01", "1.00", "21.05"]
