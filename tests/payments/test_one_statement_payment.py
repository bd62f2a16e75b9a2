"""The paid notify of a card-key order runs as one statement
(``payments.repository.pay_and_deliver_keys``); it must leave exactly the rows
the general path (payment, ``transition``, the strategy's ``fulfil``) leaves."""

from __future__ import annotations

from typing import Any

import pytest

from kameng.config import Settings
from kameng.kit.clock import FrozenClock
from kameng.orders.repository import OrderRow
from kameng.payments import repository as payments_repository
from kameng.payments import service as payments_service
from tests.factories import make_order, make_stocked_product, pay, transaction

ORDER_COLUMNS = "status, delivered_quantity, paid_at, delivered_at, updated_at, expires_at"


async def rows_of(pool: Any, order: OrderRow) -> dict[str, Any]:
    """Everything a payment writes about one order, minus ids and the order number."""
    async with transaction(pool) as conn:
        cur = await conn.execute(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = %s", (order.id,))
        columns = await cur.fetchone()
        cur = await conn.execute(
            "SELECT type, params, actor, created_at FROM order_events"
            " WHERE order_id = %s ORDER BY id",
            (order.id,),
        )
        events = [
            (t, {k: v for k, v in p.items() if k != "trade_no"}, a, c)
            for t, p, a, c in await cur.fetchall()
        ]
        cur = await conn.execute(
            "SELECT gateway, amount_cents, method, received_at FROM payments WHERE order_id = %s",
            (order.id,),
        )
        payment = await cur.fetchall()
        cur = await conn.execute(
            "SELECT slot, status, sold_at FROM card_keys WHERE order_id = %s ORDER BY slot",
            (order.id,),
        )
        keys = await cur.fetchall()
        cur = await conn.execute(
            "SELECT verdict, detail FROM payment_notifies WHERE order_id = %s", (order.id,)
        )
        notifies = await cur.fetchall()
    return {
        "order": columns,
        "events": events,
        "payment": payment,
        "keys": keys,
        "notifies": notifies,
    }


@pytest.mark.parametrize(
    ("quantity", "stock", "expired"),
    [(1, 5, False), (3, 5, False), (3, 2, False), (2, 0, False), (1, 5, True)],
    ids=["one-key", "three-keys", "short-of-stock", "no-stock", "paid-after-expiry"],
)
async def test_one_statement_writes_what_the_general_path_writes(
    pool: Any,
    settings: Settings,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    quantity: int,
    stock: int,
    expired: bool,
) -> None:
    async def paid_order(sku: str) -> tuple[OrderRow, str]:
        await make_stocked_product(pool, settings, keys=stock, sku=sku, name=sku, max_quantity=5)
        order = await make_order(pool, sku, quantity)
        if expired:
            async with transaction(pool) as conn:
                await conn.execute(
                    "UPDATE orders SET status = 'expired' WHERE id = %s", (order.id,)
                )
        outcome = await pay(pool, settings, order)
        return order, outcome.verdict

    fused_calls: list[int] = []
    one_statement = payments_repository.pay_and_deliver_keys

    async def counted(conn: Any, **kwargs: Any) -> Any:
        fused_calls.append(kwargs["order_id"])
        return await one_statement(conn, **kwargs)

    monkeypatch.setattr(payments_repository, "pay_and_deliver_keys", counted)
    one, one_verdict = await paid_order("FUSED")
    monkeypatch.setattr(payments_service, "delivers_with_payment", lambda _order: False)
    general, general_verdict = await paid_order("GENERAL")
    assert fused_calls == [one.id]  # the first order only took the one statement
    assert one_verdict == general_verdict == ("accepted_late" if expired else "accepted")
    fused_rows, general_rows = await rows_of(pool, one), await rows_of(pool, general)
    assert fused_rows == general_rows
    delivered = min(quantity, stock)
    assert len(fused_rows["keys"]) == delivered
    assert [e[0] for e in fused_rows["events"]][1:] == [
        "paid",
        "delivered" if delivered == quantity else "awaiting_stock",
    ]
