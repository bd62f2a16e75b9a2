"""``kameng tickets list|show|reply|close`` against the test database."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kameng.cli import app
from kameng.kit import clock
from kameng.kit.i18n import translator
from kameng.orders import repository as orders_repo
from kameng.orders.explain import explain
from kameng.tickets import service as tickets
from tests.factories import make_order, make_product, transaction
from tests.support import run_sync


async def _open_ticket(url: str) -> tuple[str, str]:
    await make_product(url)
    order = await make_order(url)
    async with transaction(url) as conn:
        why = explain(
            order, await orders_repo.events_of(conn, order.id), translator("zh_CN"), now=clock.now()
        )
        ticket = await tickets.open_ticket(
            conn, order=order, why=why, message="卡密没到", contact="13800138000", now=clock.now()
        )
    return ticket.ticket_no, order.order_no


async def _follow_up(url: str, ticket_no: str, text: str) -> None:
    async with transaction(url) as conn:
        await tickets.follow_up(conn, ticket_no, text, now=clock.now())


def test_list_show_reply_close(cli_env: None, database_url: str) -> None:
    ticket_no, order_no = run_sync(_open_ticket(database_url))
    runner = CliRunner()
    listed = runner.invoke(app, ["tickets", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(r["ticket_no"], r["status"], r["contact"]) for r in json.loads(listed.output)] == [
        (ticket_no, "open", "13800138000")
    ]
    shown = json.loads(runner.invoke(app, ["tickets", "show", ticket_no, "--json"]).output)
    assert shown["order"]["order_no"] == order_no and shown["cause"] == "not_paid"
    assert [(m["author"], m["body"]) for m in shown["messages"]] == [("buyer", "卡密没到")]
    replied = runner.invoke(app, ["tickets", "reply", ticket_no.lower(), "--text", "请先付款"])
    assert replied.exit_code == 0 and replied.output == f"{ticket_no} answered\n"
    text = runner.invoke(app, ["tickets", "show", ticket_no]).output
    assert f"order {order_no}" in text and "operator: 请先付款" in text
    run_sync(_follow_up(database_url, ticket_no, "已付款，截图见邮件"))
    shown = json.loads(runner.invoke(app, ["tickets", "show", ticket_no, "--json"]).output)
    assert shown["status"] == "open"  # the buyer wrote again: back in the operator's list
    assert [(m["author"], m["body"]) for m in shown["messages"]] == [
        ("buyer", "卡密没到"),
        ("operator", "请先付款"),
        ("buyer", "已付款，截图见邮件"),
    ]
    text = runner.invoke(app, ["tickets", "show", ticket_no]).output
    assert text.splitlines()[-1].endswith("] buyer: 已付款，截图见邮件")
    assert [
        r["ticket_no"] for r in json.loads(runner.invoke(app, ["tickets", "list", "--json"]).output)
    ] == [ticket_no]
    closed = runner.invoke(app, ["tickets", "close", ticket_no])
    assert closed.exit_code == 0 and closed.output == f"{ticket_no} closed\n"
    assert runner.invoke(app, ["tickets", "list"]).output == "no tickets\n"
    again = runner.invoke(app, ["tickets", "reply", ticket_no, "--text", "x"])
    assert again.exit_code == 1 and f"Ticket {ticket_no} is closed" in again.output
    missing = runner.invoke(app, ["tickets", "show", "T1234567890123"])
    assert missing.exit_code == 1 and "No ticket T1234567890123" in missing.output
    garbage = runner.invoke(app, ["tickets", "close", "nope"])
    assert garbage.exit_code == 2 and "not a ticket number" in garbage.output
