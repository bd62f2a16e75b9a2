"""``kameng supplier add|link|list|set|disable``, ``kameng fulfil-manual`` and
``kameng supplier-sandbox``: the operator's commands of the supply engine."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, TypeVar

import typer

from kameng.cli_common import in_transaction, keyed_settings
from kameng.config import Settings, get_settings

T = TypeVar("T")

supplier_app = typer.Typer(help="Upstream suppliers (直充/代发卡): add, link, list, set, disable.")


def _echo(message: str) -> None:
    typer.echo(message)


def _cents(value: str) -> int:
    from kameng.kit.money import MoneyFormatError, parse_yuan

    try:
        return parse_yuan(value)
    except MoneyFormatError:
        raise typer.BadParameter(f"not an amount in yuan: {value}") from None


@supplier_app.command("add")
def add(
    code: Annotated[str, typer.Argument(help="Short code, also in the callback URL.")],
    url: Annotated[str, typer.Option(help="Base URL of the supplier's API.")],
    merchant_id: Annotated[str, typer.Option(help="Our merchant id at the supplier.")],
    secret: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            envvar="KAMENG_SUPPLIER_SECRET",
            help="Signing key (prompted, or KAMENG_SUPPLIER_SECRET); stored encrypted.",
        ),
    ],
    name: Annotated[str, typer.Option(help="Name shown to buyers in the timeline.")] = "",
    priority: Annotated[int, typer.Option(help="Lower is tried first.")] = 100,
) -> None:
    """Add a supplier (generic signed-HTTP protocol)."""
    from kameng.fulfilment.supply import admin
    from kameng.fulfilment.supply.setup import supply_config
    from kameng.kit import clock

    settings = keyed_settings("supplier")
    cfg = supply_config(settings)
    in_transaction(
        settings,
        lambda conn: admin.add(
            conn, cfg, code=code, name=name, base_url=url, merchant_id=merchant_id,
            secret=secret, priority=priority, now=clock.now(),
        ),
    )  # fmt: skip
    _echo(f"supplier {code} added; callback URL {cfg.notify_url(code)}")


@supplier_app.command("link")
def link(
    code: str,
    product: Annotated[str, typer.Option(help="Our product SKU.")],
    supplier_sku: Annotated[str, typer.Option("--as", help="The supplier's product code.")],
    cost: Annotated[str, typer.Option(help="Most we pay per unit, yuan (e.g. 9.80).")],
    priority: Annotated[int, typer.Option(help="Lower is tried first.")] = 100,
) -> None:
    """Let a supplier serve one of our products (several suppliers per product)."""
    from kameng.fulfilment.supply import admin

    cents = _cents(cost)
    in_transaction(
        keyed_settings("supplier"),
        lambda conn: admin.link(
            conn, code=code, sku=product, supplier_sku=supplier_sku, cost_cents=cents,
            priority=priority,
        ),
    )  # fmt: skip
    _echo(f"{code} serves {product} as {supplier_sku} at ¥{cost}")


@supplier_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Suppliers with their products and health (success rate, latency, last error)."""
    from kameng.fulfilment.supply import admin
    from kameng.kit.money import format_yuan

    views = in_transaction(keyed_settings("supplier"), admin.views)
    rows: list[dict[str, Any]] = [
        {
            "code": v.supplier.code,
            "name": v.supplier.name,
            "url": v.supplier.base_url,
            "priority": v.supplier.priority,
            "enabled": v.supplier.enabled,
            "success_rate": v.success_rate,
            "calls": v.supplier.successes + v.supplier.failures,
            "latency_ms": v.supplier.latency_ms,
            "last_error": v.supplier.last_error,
            "breaker_open_until": v.supplier.breaker_open_until.isoformat()
            if v.supplier.breaker_open_until
            else None,
            "products": [
                {"sku": a, "supplier_sku": b, "cost_cents": c, "priority": d}
                for a, b, c, d in v.products
            ],
        }
        for v in views
    ]
    if as_json:
        _echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        rate = "-" if r["success_rate"] is None else f"{r['success_rate']:.0%}"
        state = "enabled" if r["enabled"] else "DISABLED"
        breaker = (
            f" breaker open until {r['breaker_open_until']}" if r["breaker_open_until"] else ""
        )
        _echo(
            f"{r['code']} ({r['name']}) prio {r['priority']} {state} {r['url']} "
            f"success {rate} of {r['calls']}, latency {r['latency_ms'] or '-'} ms{breaker}"
        )
        if r["last_error"]:
            _echo(f"  last error: {r['last_error']}")
        for p in r["products"]:
            _echo(f"  {p['sku']} as {p['supplier_sku']} ≤ {format_yuan(p['cost_cents'])}")


@supplier_app.command("set")
def set_(
    code: str,
    name: Annotated[str | None, typer.Option()] = None,
    url: Annotated[str | None, typer.Option()] = None,
    merchant_id: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[int | None, typer.Option()] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    new_secret: Annotated[
        bool, typer.Option("--new-secret", help="Prompt for a new signing key.")
    ] = False,
) -> None:
    """Change a supplier."""
    from kameng.fulfilment.supply import admin
    from kameng.fulfilment.supply.setup import supply_config
    from kameng.kit import clock

    secret = typer.prompt("secret", hide_input=True) if new_secret else None
    settings = keyed_settings("supplier")
    cfg = supply_config(settings)
    in_transaction(
        settings,
        lambda conn: admin.update(
            conn, cfg, code=code, now=clock.now(), name=name, base_url=url,
            merchant_id=merchant_id, secret=secret, priority=priority, enabled=enabled,
        ),
    )  # fmt: skip
    _echo(f"supplier {code} updated")


@supplier_app.command("disable")
def disable(code: str) -> None:
    """Stop sending orders to a supplier (attempts in flight are still asked about)."""
    from kameng.fulfilment.supply import admin
    from kameng.fulfilment.supply.setup import supply_config
    from kameng.kit import clock

    settings = keyed_settings("supplier")
    cfg = supply_config(settings)
    in_transaction(
        settings, lambda conn: admin.update(conn, cfg, code=code, now=clock.now(), enabled=False)
    )
    _echo(f"supplier {code} disabled")


def register(app: typer.Typer) -> None:
    """Add these commands to the ``kameng`` command."""
    app.add_typer(supplier_app, name="supplier")
    app.command("fulfil-manual")(fulfil_manual_command)
    app.command("supplier-sandbox")(supplier_sandbox_command)


def fulfil_manual_command(
    order: Annotated[str, typer.Argument(help="Order number.")],
    text: Annotated[str, typer.Option(help="What the buyer receives (shown to the owner only).")],
) -> None:
    """Deliver a manual (人工) order that waits for an operator."""
    fulfil_manual(order, text)


def supplier_sandbox_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8005,
) -> None:
    """Serve the supplier sandbox (merchants and orders under var/sandbox/supplier)."""
    supplier_sandbox(host, port)


def fulfil_manual(order_no: str, text: str) -> None:
    from kameng.fulfilment.supply.manual import fulfil_manual as deliver
    from kameng.kit import clock
    from kameng.kit.order_numbers import normalize

    number = normalize(order_no)
    in_transaction(
        keyed_settings("supplier"), lambda conn: deliver(conn, number, text=text, now=clock.now())
    )
    _echo(f"order {number} delivered")


def supplier_sandbox(host: str, port: int) -> None:
    import uvicorn

    from kameng.sandbox.supplier import create_app
    from kameng.sandbox.supplier_store import DEMO_BEHAVIOURS, SupplierStore, merchants_file

    settings = get_settings()
    directory = settings.data_dir / "sandbox" / "supplier"
    path = directory / "orders.json"
    first_start = not path.exists()
    store = SupplierStore(path, merchants_file(directory))
    if first_start:
        store.behaviours.update(DEMO_BEHAVIOURS)
        store.save()
    _echo(f"supplier sandbox: merchants and orders in {directory}")
    uvicorn.run(
        create_app(store, time_scale=settings.sandbox_time_scale), host=host, port=port,
        log_level="warning",
    )  # fmt: skip


def load_demo_suppliers(url: str, settings: Settings, sandbox_url: str) -> bool:
    """The demo suppliers (on the supplier sandbox) and one demo product per behaviour."""
    from kameng.demo_supply import load_supply_demo
    from kameng.sandbox.supplier_store import merchants_file

    merchants = merchants_file(settings.data_dir / "sandbox" / "supplier")
    return asyncio.run(load_supply_demo(url, settings, sandbox_url, merchants))
