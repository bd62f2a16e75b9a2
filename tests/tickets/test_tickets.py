"""Support tickets: the prefilled form, CSRF and bad input (clear 4xx, nothing
written), the ticket number found by the lookup box with only what it proves,
replies on the ticket and on the order's timeline, closing, rate limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn
from kameng.kit import clock, order_numbers
from kameng.kit.i18n import translator
from kameng.models.vocabulary import OrderEventType
from kameng.orders.explain import Cause, explain
from kameng.orders.repository import EventRow
from kameng.tickets import numbers
from kameng.tickets import service as tickets
from kameng.tickets.errors import TicketClosed, TicketNotFound
from tests.factories import count, make_order, make_paid_order, make_product, transaction

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class TestNumbers:
    def test_generated_numbers_are_valid_and_a_typo_is_not(self) -> None:
        for _ in range(200):
            number = numbers.generate()
            assert re.fullmatch(r"T[1-9][0-9]{12}", number) and numbers.is_valid(number)
        number = numbers.generate()
        typo = number[:5] + str((int(number[5]) + 1) % 10) + number[6:]
        assert not numbers.is_valid(typo)
        swapped = number[:3] + number[4] + number[3] + number[5:]
        assert swapped == number or not numbers.is_valid(swapped)

    def test_found_in_what_buyers_paste(self) -> None:
        assert numbers.find_in("工单号：t 1234-5678-90123") == "T1234567890123"
        assert numbers.find_in("Ticket no. Ｔ１２３４５６７８９０１２３") == "T1234567890123"
        assert numbers.find_in("1234567890123456") is None
        assert numbers.find_in("T12345678901234") is None  # 14 digits: not a ticket number


async def _form(client: httpx.AsyncClient, order_no: str, **fields: str) -> httpx.Response:
    page = await client.get(f"/o/{order_no}/support")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    return await client.post(f"/o/{order_no}/support", data={"csrf": token.group(1), **fields})


async def _ticket_no(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/t/(T\d{13})\?new=1", response.headers["location"])
    assert match is not None, response.headers["location"]
    return match.group(1)


class TestForm:
    async def test_prefilled_form_opens_a_ticket_the_lookup_box_finds(
        self, client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn], settings: Settings
    ) -> None:
        await make_product(pool)
        order = await make_paid_order(pool, settings, contact="buyer@example.com")
        # The order page's "contact support" is the form (awaiting stock offers it at once).
        page = await client.get(f"/o/{order.order_no}")
        assert f'href="/o/{order.order_no}/support"' in page.text
        form = await client.get(f"/o/{order.order_no}/support")
        assert form.status_code == 200
        assert order.order_no in form.text and "付款时间" in form.text and "卡密" in form.text
        assert "商品暂时缺货" in form.text  # the current cause, from the explanation engine

        sent = await _form(client, order.order_no, message="没收到卡密", contact="qq 12345")
        ticket_no = await _ticket_no(sent)
        view = await client.get(f"/t/{ticket_no}?new=1")
        assert view.status_code == 200
        assert ticket_no in view.text and "等待客服处理" in view.text and "没收到卡密" in view.text
        # A ticket number alone shows the order masked, as a trade number alone does.
        assert order.order_no not in view.text
        assert order.order_no[:4] + "********" + order.order_no[-4:] in view.text

        found = (await client.get("/api/shop/lookup", params={"q": f"工单号 {ticket_no}"})).json()
        assert (found["kind"], found["ticket_no"], found["ticket_status"]) == (
            "ticket", ticket_no, "open"
        )  # fmt: skip
        assert found["order"] is None and found["explanation"] is None
        assert found["masked_order_no"] == order.order_no[:4] + "********" + order.order_no[-4:]
        assert found["message"] == f"客服工单 {ticket_no}：等待客服处理"
        proven = await client.post(
            "/api/shop/lookup", json={"q": ticket_no, "contact": "buyer@example.com"}
        )
        assert proven.json()["order"]["order_no"] == order.order_no
        wrong = await client.post("/api/shop/lookup", json={"q": ticket_no, "contact": "x@y.z"})
        assert wrong.json()["order"] is None
        assert wrong.json()["message"] == "查询密码或联系方式与此工单的订单不符"
        html = await client.get("/query", params={"q": ticket_no})
        assert f'href="/t/{ticket_no}"' in html.text and order.order_no not in html.text

        timeline = (await client.get(f"/api/shop/orders/{order.order_no}?lang=en")).json()
        assert timeline["timeline"][-1]["label"] == f"Support ticket {ticket_no} opened"
        assert timeline["explanation"]["cause"] == "processing"  # the story is unchanged
        async with transaction(pool) as conn:
            stored = await tickets.view(conn, ticket_no)
        assert (stored.ticket.contact, stored.ticket.cause) == ("qq 12345", "processing")
        assert "缺货" in stored.ticket.cause_text
        assert [(m.author, m.body) for m in stored.messages] == [("buyer", "没收到卡密")]

    async def test_bad_input_is_a_clear_4xx_and_nothing_is_written(
        self, client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn]
    ) -> None:
        await make_product(pool)
        order = await make_order(pool)
        no_csrf = await client.post(f"/o/{order.order_no}/support", data={"message": "hi"})
        assert no_csrf.status_code == 403
        empty = await _form(client, order.order_no, message="   ")
        assert empty.status_code == 422 and "请描述遇到的问题（1 到 2000 个字符）" in empty.text
        long = await _form(client, order.order_no, message="x" * 2001)
        assert long.status_code == 422
        control = await _form(client, order.order_no, message="hi", contact="a\x00b")
        assert control.status_code == 422 and "联系方式最多 120 个字符" in control.text
        unknown = await client.get(f"/o/{order_numbers.generate()}/support")
        assert unknown.status_code == 404
        typo = await client.get("/o/12345/support")
        assert typo.status_code == 422
        for path in (
            "/t/garbage",
            f"/t/{numbers.generate()}",
            "/t/T1234567890123",
            "/t/" + "9" * 300,
        ):
            answer = await client.get(path)
            assert answer.status_code == 404 and "请检查工单号" in answer.text, path
        assert await count(pool, "SELECT count(*) FROM tickets") == 0
        assert await count(pool, "SELECT count(*) FROM ticket_messages") == 0
        missing = await client.get("/api/shop/lookup", params={"q": "T1234567890123"})
        assert missing.json()["kind"] == "not_found"
        assert missing.json()["message"].startswith("没有这个编号的客服工单")
        english = await client.get(f"/o/{order.order_no}/support?lang=en")
        assert "Contact support" in english.text
        en = await _form(client, order.order_no, message="")
        assert en.status_code == 422 and "Please describe the problem" in en.text
        assert await count(pool, "SELECT count(*) FROM tickets") == 0

    async def test_english_status_badge_is_capitalised(
        self, client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn]
    ) -> None:
        await make_product(pool)
        order = await make_order(pool)
        ticket_no = await _ticket_no(await _form(client, order.order_no, message="key fails"))
        badge = '<span class="status" id="ticket-status">%s</span>'
        chinese = await client.get(f"/t/{ticket_no}")
        assert badge % "等待客服处理" in chinese.text
        for step, label in ((None, "Waiting for support"), ("reply", "Support has replied")):
            if step == "reply":
                async with transaction(pool) as conn:
                    await tickets.reply(conn, ticket_no, "Which key?", now=clock.now())
            page = await client.get(f"/t/{ticket_no}?lang=en")
            assert page.status_code == 200 and badge % label in page.text
            assert badge % label.lower() not in page.text
        async with transaction(pool) as conn:
            await tickets.close(conn, ticket_no, now=clock.now())
        assert badge % "Closed" in (await client.get(f"/t/{ticket_no}?lang=en")).text

    async def test_rate_limited_per_address(
        self, client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn]
    ) -> None:
        await make_product(pool)
        orders = [await make_order(pool) for _ in range(3)]
        for i in range(5):
            await _ticket_no(await _form(client, orders[i % 3].order_no, message=f"m{i}"))
        refused = await _form(client, orders[0].order_no, message="one more")
        assert refused.status_code == 429 and "提交工单过于频繁，请 60 分钟后再试" in refused.text
        assert await count(pool, "SELECT count(*) FROM tickets") == 5


class TestOperator:
    async def test_reply_reaches_the_ticket_and_the_timeline_then_close(
        self, client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn]
    ) -> None:
        await make_product(pool)
        order = await make_order(pool)
        ticket_no = await _ticket_no(await _form(client, order.order_no, message="help"))
        async with transaction(pool) as conn:
            await tickets.reply(conn, ticket_no, "已补发，请刷新", now=clock.now())
        view = await client.get(f"/t/{ticket_no}")
        assert "客服已回复" in view.text and "已补发，请刷新" in view.text
        page = await client.get(f"/o/{order.order_no}")
        assert f"客服已回复（工单 {ticket_no}）：已补发，请刷新" in page.text
        async with transaction(pool) as conn:
            await tickets.close(conn, ticket_no, now=clock.now())
        with pytest.raises(TicketClosed):
            async with transaction(pool) as conn:
                await tickets.reply(conn, ticket_no, "again", now=clock.now())
        with pytest.raises(TicketNotFound):
            async with transaction(pool) as conn:
                await tickets.close(conn, "T1234567890123", now=clock.now())
        async with transaction(pool) as conn:
            stored = await tickets.view(conn, ticket_no)
            assert [t.ticket_no for t in await tickets.listing(conn)] == []
            assert [t.ticket_no for t in await tickets.listing(conn, closed=True)] == [ticket_no]
        assert [(m.author, m.body) for m in stored.messages] == [
            ("buyer", "help"),
            ("operator", "已补发，请刷新"),
        ]
        assert (await client.get(f"/t/{ticket_no}")).text.count("已关闭") >= 1


def test_ticket_events_do_not_change_the_explanation() -> None:
    from tests.notices.test_notices import _order

    slow = EventRow(OrderEventType.SUPPLIER_SLOW, {}, "system", NOW)  # type: ignore[arg-type]
    opened = EventRow(OrderEventType.TICKET_OPENED, {"ticket": "T1"}, "buyer", NOW)  # type: ignore[arg-type]
    order = _order("fulfilling")
    before = explain(order, [slow], translator("en"), now=NOW)
    after = explain(order, [slow, opened], translator("en"), now=NOW)
    assert before.cause == after.cause == Cause.UPSTREAM and before.text == after.text
