"""对账 against the epay sandbox's api.php?act=orders: a payment the shop never
heard of is repaired (paid and delivered through the notify path); a wrong
amount and a payment the gateway does not know are flagged with evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from kameng.config import Settings
from kameng.kit import clock
from kameng.payments.reconcile import repository
from kameng.payments.reconcile.service import reconcile
from tests.factories import count, make_order, make_stocked_product, pay, transaction
from tests.payments.epay_sandbox import (
    gateways,
    paid_at_gateway,
    sandbox,  # noqa: F401 - the fixture
)


async def test_reconcile_repairs_and_flags(
    client: httpx.AsyncClient,
    sandbox: Any,  # noqa: F811 - the fixture imported above
    settings: Settings,
    pool: Any,
) -> None:
    await make_stocked_product(pool, settings, keys=3, price_cents=1000)
    unknown_here = await paid_at_gateway(client, sandbox)
    mismatched = await paid_at_gateway(client, sandbox)
    gateway = gateways(settings, sandbox).get("epay")
    assert gateway is not None
    # The shop knows the second payment, but (as if tampered with) for another amount.
    row = await make_order(pool)
    verified = await gateway.query(mismatched["order_no"])
    assert verified is not None
    from kameng.payments.service import settle_queried

    async with transaction(pool) as conn:
        await settle_queried(conn, gateway=gateway, verified=verified, now=clock.now())
        await conn.execute(
            "UPDATE payments SET amount_cents = 900 WHERE trade_no = %(t)s",
            {"t": mismatched["trade_no"]},
        )
    # And a payment the gateway never had.
    await pay(pool, settings, row, trade_no="NOT-AT-EPAY")

    day = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    run_id = await reconcile(pool, gateway, day, clock.now())
    async with transaction(pool) as conn:
        findings = await repository.findings_of(conn, run_id)
        cur = await conn.execute(
            "SELECT channel, bill_date, gateway_lines, local_payments, error "
            "FROM reconciliation_runs WHERE id = %(r)s",
            {"r": run_id},
        )
        run = await cur.fetchone()
    assert run == ("epay", day, 2, 2, None)  # the repaired one was not known before
    findings.sort(key=lambda f: ["repaired", "amount_mismatch", "missing_at_gateway"].index(f[0]))
    assert [(f[0], f[1], f[2], f[3], f[4]) for f in findings] == [
        ("repaired", unknown_here["order_no"], unknown_here["trade_no"], None, 1000),
        ("amount_mismatch", mismatched["order_no"], mismatched["trade_no"], 900, 1000),
        ("missing_at_gateway", row.order_no, "NOT-AT-EPAY", 1000, None),
    ]
    assert findings[0][5]["verdict"] == "accepted"
    assert findings[1][5]["bill"]["money"] == "10.00"
    body = (await client.get(f"/api/shop/orders/{unknown_here['order_no']}")).json()
    assert body["status"] == "delivered"  # repaired means paid and fulfilled

    # A second run repairs nothing twice.
    again = await reconcile(pool, gateway, day, clock.now())
    async with transaction(pool) as conn:
        kinds = sorted(f[0] for f in await repository.findings_of(conn, again))
    assert kinds == ["amount_mismatch", "missing_at_gateway"]
    assert await count(pool, "SELECT count(*) FROM payments") == 3


async def test_reconcile_command_refuses_bad_input(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    import asyncio

    from typer.testing import CliRunner

    from kameng.cli import app
    from kameng.config import get_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAMENG_DEMO", "1")
    monkeypatch.setenv("KAMENG_LANG", "en")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        bad_day = await asyncio.to_thread(
            runner.invoke, app, ["reconcile", "--channel", "epay", "--date", "2026-13-01"]
        )
        assert bad_day.exit_code == 2 and "is not a date" in bad_day.output
        unknown = await asyncio.to_thread(
            runner.invoke, app, ["reconcile", "--channel", "nope", "--date", "2026-11-25"]
        )
        assert unknown.exit_code == 2 and "nope is not configured" in unknown.output
    finally:
        get_settings.cache_clear()
