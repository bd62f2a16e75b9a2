from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kameng.kit import order_numbers

numbers = st.builds(lambda _: order_numbers.generate(), st.integers())


class TestOrderNumbers:
    def test_known_damm_vector(self) -> None:
        # Damm's published example: 572 -> check digit 4.
        assert order_numbers.damm_digit("572") == 4
        assert order_numbers.is_valid("1234567890123452") is (
            order_numbers.damm_digit("123456789012345") == 2
        )

    @given(numbers)
    def test_generated_numbers_are_16_valid_digits(self, number: str) -> None:
        assert len(number) == 16 and number.isdigit() and number[0] != "0"
        assert order_numbers.is_valid(number)

    @given(numbers, st.integers(0, 15), st.integers(1, 9))
    def test_every_single_digit_error_is_caught(self, number: str, pos: int, delta: int) -> None:
        wrong = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
        assert not order_numbers.is_valid(wrong)

    @given(numbers, st.integers(0, 14))
    def test_every_adjacent_transposition_is_caught(self, number: str, pos: int) -> None:
        swapped = number[:pos] + number[pos + 1] + number[pos] + number[pos + 2 :]
        if swapped != number:
            assert not order_numbers.is_valid(swapped)

    @given(numbers, st.integers(0, 15), st.integers(1, 9))
    def test_a_typo_suggests_the_real_number(self, number: str, pos: int, delta: int) -> None:
        wrong = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
        assert number in order_numbers.near_misses(wrong)

    @given(numbers, st.integers(0, 15))
    def test_a_dropped_digit_suggests_the_real_number(self, number: str, pos: int) -> None:
        assert number in order_numbers.near_misses(number[:pos] + number[pos + 1 :])

    @pytest.mark.parametrize(
        ("typed", "expected"),
        [
            ("1234 5678 9012 3452", "1234567890123452"),
            ("１２３４-５６７８-９０１２-３４５２", "1234567890123452"),
            ("  1234_5678\t90123452 ", "1234567890123452"),
        ],
    )
    def test_normalize_folds_what_buyers_type(self, typed: str, expected: str) -> None:
        assert order_numbers.normalize(typed) == expected
