"""``kameng announce add|list|end`` (notices to buyers) and ``kameng tickets
list|show|reply|close`` (the buyers' support tickets): the operator's commands
until the console comes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from kameng.cli_common import in_transaction
from kameng.config import get_settings

announce_app = typer.Typer(help="Announcements to buyers: add, list, end.", no_args_is_help=True)


def _when(value: str | None, zone_name: str) -> datetime | None:
    """An ISO date-time; without an offset it is read in the shop's display zone."""
    from kameng.kit.timefmt import zone

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"not a date-time (2026-12-01T02:00): {value}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone(zone_name))


def _notice_dict(n: Any, zone_name: str) -> dict[str, Any]:
    from kameng.kit.timefmt import local

    return {
        "id": n.id,
        "scope": n.scope.value,
        "target": n.target,
        "starts_at": local(n.starts_at, zone_name),
        "ends_at": local(n.ends_at, zone_name),
        "zh": n.text_zh,
        "en": n.text_en,
    }


@announce_app.command("add")
def announce_add(
    zh: Annotated[str, typer.Option("--zh", help="The notice in Chinese.")],
    en: Annotated[str, typer.Option("--en", help="The notice in English.")],
    ends: Annotated[str, typer.Option(help="End, ISO date-time (shop's zone unless an offset).")],
    starts: Annotated[
        str | None, typer.Option(help="Start, ISO date-time; now when left out.")
    ] = None,
    scope: Annotated[
        str, typer.Option(help="all | product | supplier | channel (what it touches).")
    ] = "all",
    target: Annotated[
        str | None,
        typer.Option(help="The product SKU, supplier code or payment channel name."),
    ] = None,
) -> None:
    """Publish a notice: the storefront and every order it touches show it."""
    from kameng.kit import clock
    from kameng.models.vocabulary import NoticeScope
    from kameng.notices import service

    if scope not in {s.value for s in NoticeScope}:
        raise typer.BadParameter(f"scope must be one of {', '.join(NoticeScope)}: {scope}")
    settings = get_settings()
    now = clock.now()
    starts_at = _when(starts, settings.display_timezone) or now
    ends_at = _when(ends, settings.display_timezone)
    assert ends_at is not None

    async def work(conn: Any) -> Any:
        return await service.publish(
            conn,
            text_zh=zh,
            text_en=en,
            scope=NoticeScope(scope),
            target=target,
            starts_at=starts_at,
            ends_at=ends_at,
            now=now,
        )

    notice = in_transaction(settings, work)
    touches = " ".join(w for w in (notice.scope.value, notice.target) if w)  # "all", no target
    typer.echo(f"notice {notice.id} published ({touches})")


@announce_app.command("list")
def announce_list(
    ended: Annotated[bool, typer.Option("--all", help="Also the ended ones (latest 100).")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Notices running or still to come (``--all``: also ended ones)."""
    from kameng.kit import clock
    from kameng.notices import service

    settings = get_settings()
    now = clock.now()
    found = in_transaction(settings, lambda conn: service.listing(conn, now, ended=ended))
    rows = [
        {**_notice_dict(n, settings.display_timezone), "active": n.active_at(now)} for n in found
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        typer.echo("no notices")
    for r in rows:
        state = "active" if r["active"] else "not active"
        typer.echo(
            f"{r['id']:>5}  {r['scope']:<8} {r['target'] or '-':<16} "
            f"{r['starts_at']} → {r['ends_at']}  ({state})\n"
            f"       zh: {r['zh']}\n       en: {r['en']}"
        )


@announce_app.command("end")
def announce_end(
    notice_id: Annotated[int, typer.Argument(help="The notice's id (kameng announce list).")],
) -> None:
    """End a notice now (one not started yet is withdrawn)."""
    from kameng.kit import clock
    from kameng.notices import service

    now = clock.now()
    ended = in_transaction(get_settings(), lambda conn: service.end(conn, notice_id, now))
    typer.echo(f"notice {ended.id} ended")


tickets_app = typer.Typer(
    help="Buyers' support tickets: list, show, reply, close.", no_args_is_help=True
)


def _ticket_dict(ticket: Any, zone_name: str) -> dict[str, Any]:
    from kameng.kit.timefmt import local

    return {
        "ticket_no": ticket.ticket_no,
        "status": ticket.status.value,
        "cause": ticket.cause,
        "cause_text": ticket.cause_text,
        "contact": ticket.contact,
        "created_at": local(ticket.created_at, zone_name),
        "updated_at": local(ticket.updated_at, zone_name),
    }


def _number(text: str) -> str:
    from kameng.tickets import numbers

    found = numbers.find_in(text)
    if found is None:
        raise typer.BadParameter(f"not a ticket number (T and 13 digits): {text}")
    return found


@tickets_app.command("list")
def tickets_list(
    closed: Annotated[bool, typer.Option("--all", help="Also the closed ones.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Open and answered tickets, oldest first."""
    from kameng.tickets import service

    settings = get_settings()
    found = in_transaction(settings, lambda conn: service.listing(conn, closed=closed))
    rows = [_ticket_dict(x, settings.display_timezone) for x in found]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        typer.echo("no tickets")
    for r in rows:
        typer.echo(f"{r['ticket_no']}  {r['status']:<9} {r['created_at']}  {r['cause'] or '-'}")


@tickets_app.command("show")
def tickets_show(
    ticket: Annotated[str, typer.Argument(help="Ticket number (T and 13 digits).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The ticket, its order and every message."""
    from kameng.kit.money import format_yuan
    from kameng.kit.timefmt import local
    from kameng.tickets import service

    settings = get_settings()
    number = _number(ticket)
    found = in_transaction(settings, lambda conn: service.view(conn, number))
    zone_name = settings.display_timezone
    order = found.order
    data = {
        **_ticket_dict(found.ticket, zone_name),
        "order": {
            "order_no": order.order_no,
            "status": order.status.value,
            "product": order.product_sku,
            "kind": order.product_kind.value,
            "amount": format_yuan(order.amount_cents),
            "paid_at": local(order.paid_at, zone_name) if order.paid_at else None,
            "order_contact": order.contact,
        },
        "messages": [
            {"author": m.author.value, "at": local(m.created_at, zone_name), "body": m.body}
            for m in found.messages
        ],
    }
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    typer.echo(f"{data['ticket_no']}  {data['status']}  opened {data['created_at']}")
    typer.echo(
        f"order {order.order_no}  {order.status.value}  {order.product_sku} "
        f"({order.product_kind.value})  ¥{format_yuan(order.amount_cents)}  "
        f"paid {data['order']['paid_at'] or '-'}"
    )
    typer.echo(f"contact: {found.ticket.contact or '-'}  cause: {found.ticket.cause or '-'}")
    typer.echo(f"  {found.ticket.cause_text}")
    for m in data["messages"]:
        typer.echo(f"[{m['at']}] {m['author']}: {m['body']}")


@tickets_app.command("reply")
def tickets_reply(
    ticket: Annotated[str, typer.Argument(help="Ticket number.")],
    text: Annotated[
        str,
        typer.Option(
            help="The answer; the buyer sees it on the ticket and on the order's timeline."
        ),
    ],
) -> None:
    """Answer a ticket."""
    from kameng.kit import clock
    from kameng.tickets import service

    number = _number(ticket)
    now = clock.now()
    in_transaction(get_settings(), lambda conn: service.reply(conn, number, text, now=now))
    typer.echo(f"{number} answered")


@tickets_app.command("close")
def tickets_close(ticket: Annotated[str, typer.Argument(help="Ticket number.")]) -> None:
    """Close a ticket (the order's timeline says so)."""
    from kameng.kit import clock
    from kameng.tickets import service

    number = _number(ticket)
    now = clock.now()
    in_transaction(get_settings(), lambda conn: service.close(conn, number, now=now))
    typer.echo(f"{number} closed")


def register(app: typer.Typer) -> None:
    """Add these commands to the ``kameng`` command."""
    app.add_typer(announce_app, name="announce")
    app.add_typer(tickets_app, name="tickets")
