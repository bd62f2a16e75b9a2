"""``kameng review rules|list|approve|reject``: orders a risk rule held for review."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from kameng.cli_common import in_transaction, keyed_settings
from kameng.cli_supply import _cents

review_app = typer.Typer(help="Risk review: rules, held orders, approve, reject.")


@review_app.command("rules")
def rules_command(
    above: Annotated[
        str | None, typer.Option(help="Hold orders above this amount in yuan, e.g. 500.00.")
    ] = None,
    contact_max: Annotated[
        int | None,
        typer.Option(min=1, help="Hold an order whose contact paid this many in the window."),
    ] = None,
    window_minutes: Annotated[int, typer.Option(min=1, help="The contact rule's window.")] = 60,
    sla_minutes: Annotated[
        int, typer.Option(min=1, help="Decide within this; later the staff are alerted.")
    ] = 30,
    off: Annotated[bool, typer.Option("--off", help="No rule: nothing is held.")] = False,
) -> None:
    """Set the rules (replaces the current ones); without options, show them."""
    from kameng.fulfilment.review import repository as repo
    from kameng.kit import clock
    from kameng.kit.money import format_yuan

    settings = keyed_settings("supplier")
    above_cents = _cents(above) if above is not None else None

    async def work(conn: Any) -> repo.RulesRow | None:
        if off or above is not None or contact_max is not None:
            await repo.set_rules(
                conn,
                above_cents=None if off else above_cents,
                contact_max=None if off else contact_max,
                window_seconds=window_minutes * 60,
                review_sla_seconds=sla_minutes * 60,
                now=clock.now(),
            )
        return await repo.rules(conn)

    now = in_transaction(settings, work)
    if now is None or (now.above_cents is None and now.contact_max is None):
        typer.echo("no risk rule: paid orders are fulfilled at once")
        return
    if now.above_cents is not None:
        typer.echo(f"hold orders above ¥{format_yuan(now.above_cents)}")
    if now.contact_max is not None:
        typer.echo(
            f"hold an order whose contact paid {now.contact_max} or more orders in the last "
            f"{now.window_seconds // 60} min"
        )
    typer.echo(f"decide within {now.review_sla_seconds // 60} min")


@review_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Orders held for review, oldest paid first."""
    from kameng.fulfilment.review import repository as repo
    from kameng.kit.money import format_yuan

    held = in_transaction(keyed_settings("supplier"), repo.held)
    for row in held:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "order_no": row.order_no,
                        "product": row.product,
                        "amount": format_yuan(row.amount_cents),
                        "contact": row.contact,
                        "paid_at": row.paid_at.isoformat() if row.paid_at else None,
                        "reason": row.reason,
                        "review_by": row.review_by.isoformat() if row.review_by else None,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            typer.echo(
                f"{row.order_no}  ¥{format_yuan(row.amount_cents)}  {row.product}  "
                f"{row.contact or '-'}  {row.reason}"
            )
    if not held and not as_json:
        typer.echo("no order is held for review")


@review_app.command("approve")
def approve_command(order: Annotated[str, typer.Argument(help="Order number.")]) -> None:
    """Let a held order through: it is fulfilled now."""
    from kameng.fulfilment.review import service
    from kameng.kit import clock

    async def work(conn: Any) -> None:
        await service.approve(conn, order, now=clock.now())

    in_transaction(keyed_settings("supplier"), work)
    typer.echo(f"order {order} approved: fulfilled as paid")


@review_app.command("reject")
def reject_command(
    order: Annotated[str, typer.Argument(help="Order number.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the refund; not shown to buyers).")],
) -> None:
    """Refuse a held order: it fails and the whole payment is refunded."""
    from kameng.fulfilment.review import service
    from kameng.kit import clock

    async def work(conn: Any) -> str:
        return await service.reject(conn, order, reason=reason, now=clock.now())

    refund_no = in_transaction(keyed_settings("supplier"), work)
    typer.echo(f"order {order} rejected: refund {refund_no} requested")


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
