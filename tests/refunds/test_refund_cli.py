"""``kameng refund``: records through the same service, refuses clearly, once per command."""

from __future__ import annotations

import asyncio
from typing import Any

from typer.testing import CliRunner

from kameng.cli import app
from kameng.config import Settings
from tests.factories import count, make_paid_order, make_stocked_product


async def invoke(*args: str) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, app, ["refund", *args])


async def test_refund_command(cli_env: None, pool: Any, settings: Settings) -> None:
    await make_stocked_product(pool, settings, keys=1, price_cents=1000)
    order = await make_paid_order(pool, settings)
    result = await invoke(order.order_no, "--amount", "2.50", "--reason", "wrong region")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Refund {order.order_no}R01 of ¥2.50 for order")
    again = await invoke(order.order_no, "--amount", "2.50", "--reason", "wrong region")
    assert again.exit_code == 0 and f"{order.order_no}R01" in again.output  # same refund

    too_much = await invoke(order.order_no, "--amount", "7.51", "--reason", "more")
    assert too_much.exit_code == 1
    assert "only ¥7.50 of the payment is still refundable" in too_much.output
    bad = await invoke(order.order_no, "--amount", "1e3", "--reason", "x")
    assert bad.exit_code == 2 and "is not an amount in yuan" in bad.output
    unknown = await invoke("1000000000000000", "--reason", "x")
    assert unknown.exit_code == 1 and "No order 1000000000000000" in unknown.output
    assert await count(pool, "SELECT count(*) FROM refunds") == 1

    rest = await invoke(order.order_no, "--reason", "rest")
    assert rest.exit_code == 0 and "¥7.50" in rest.output
    assert await count(pool, "SELECT sum(amount_cents) FROM refunds") == 1000
