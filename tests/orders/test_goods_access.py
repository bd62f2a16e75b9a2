"""Who may see an order's goods: decided by the orders domain on plain values."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kameng.kit.passwords import QueryPasswords
from kameng.kit.throttle import AttemptThrottle
from kameng.kit.tokens import order_token
from kameng.models.vocabulary import OrderStatus, ProductKind
from kameng.orders.errors import TooManyAttempts, WrongPassword
from kameng.orders.repository import OrderRow
from kameng.orders.service import may_see_goods

SECRET = b"s" * 32
PASSWORDS = QueryPasswords(b"p" * 32)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ORDER = OrderRow(
    id=1, order_no="1000000000000009", product_id=1, product_sku="X", product_name="X",
    product_kind=ProductKind.CARD_KEY, quantity=1, unit_price_cents=100, amount_cents=100,
    contact=None, query_password_hash=PASSWORDS.hash("open sesame"), gateway="epay",
    status=OrderStatus.DELIVERED, delivered_quantity=1, created_at=NOW,
    expires_at=NOW + timedelta(minutes=15), paid_at=NOW, delivered_at=NOW,
)  # fmt: skip


class CountingThrottle:
    """The domain's throttle protocol on plain values (the PostgreSQL one is
    tested in tests/limits)."""

    limit = 2
    window = timedelta(minutes=15)

    def __init__(self) -> None:
        self.failures: dict[str, int] = {}

    async def blocked(self, key: str, now: datetime) -> bool:
        return self.failures.get(key, 0) >= self.limit

    async def failed(self, key: str, now: datetime) -> None:
        self.failures[key] = self.failures.get(key, 0) + 1


def throttle() -> AttemptThrottle:
    return CountingThrottle()


async def allowed(
    order: OrderRow = ORDER,
    *,
    password: str | None = None,
    token: str | None = None,
    limiter: AttemptThrottle | None = None,
) -> bool:
    return await may_see_goods(
        order,
        password=password,
        token=token,
        token_secrets=[SECRET],
        passwords=PASSWORDS,
        throttle=limiter or throttle(),
        now=NOW,
    )


async def test_the_ordering_browsers_token_or_the_password_shows_the_goods() -> None:
    assert await allowed(token=order_token(SECRET, ORDER.order_no)) is True
    assert await allowed(password="open sesame") is True


async def test_nothing_given_or_another_orders_token_shows_nothing() -> None:
    assert await allowed() is False
    assert await allowed(token=order_token(SECRET, "1000000000000017")) is False
    assert await allowed(token=order_token(b"other secret", ORDER.order_no)) is False


async def test_a_wrong_password_is_an_error_not_an_empty_answer() -> None:
    with pytest.raises(WrongPassword):
        await allowed(password="open sesame!")
    no_password_set = replace(ORDER, query_password_hash=None)
    with pytest.raises(WrongPassword):
        await allowed(no_password_set, password="open sesame")


async def test_guessing_is_throttled_but_the_owner_browser_is_never_locked_out() -> None:
    limiter = throttle()
    for _ in range(2):
        with pytest.raises(WrongPassword):
            await allowed(password="guess", limiter=limiter)
    with pytest.raises(TooManyAttempts):  # even the right password, while blocked
        await allowed(password="open sesame", limiter=limiter)
    token = order_token(SECRET, ORDER.order_no)
    assert await allowed(password="guess", token=token, limiter=limiter) is True
