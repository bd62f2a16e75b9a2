"""Tickets through the buyer JSON API (open, read, write again) and the ticket
page's follow-up form: the proofs and budgets of the pages, clear localised
errors, nothing written when refused, the order number in full only for the
ordering browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn
from kameng.kit import clock, order_numbers
from kameng.tickets import service as tickets
from tests.factories import count, make_product, place_order, transaction


@pytest.fixture
async def stranger(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same shop: no order cookie."""
    async with httpx.AsyncClient(transport=client._transport, base_url="http://shop.test") as other:
        yield other


async def _written(pool: AsyncConnectionPool[Conn]) -> tuple[int, int, int]:
    return (
        await count(pool, "SELECT count(*) FROM tickets"),
        await count(pool, "SELECT count(*) FROM ticket_messages"),
        await count(pool, "SELECT count(*) FROM order_events"),
    )


def _masked(order_no: str) -> str:
    return order_no[:4] + "********" + order_no[-4:]


def _messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["author"], m["body"]) for m in body["messages"]]


async def _open(client: httpx.AsyncClient, order_no: str, **body: Any) -> dict[str, Any]:
    answer = await client.post(f"/api/shop/orders/{order_no}/tickets", json=body)
    assert answer.status_code == 201, answer.text
    opened: dict[str, Any] = answer.json()
    return opened


class TestApi:
    async def test_open_read_and_follow_up(
        self,
        client: httpx.AsyncClient,
        stranger: httpx.AsyncClient,
        pool: AsyncConnectionPool[Conn],
    ) -> None:
        await make_product(pool)
        order = await place_order(client)  # this client is the ordering browser
        order_no = order["order_no"]
        opened = await _open(client, order_no, message="没收到卡密", contact="qq 12345")
        ticket_no = opened["ticket_no"]
        assert re.fullmatch(r"T[1-9]\d{12}", ticket_no)
        assert {k: v for k, v in opened.items() if k not in ("ticket_no", "created_at")} == {
            "status": "open",
            "status_label": "等待客服处理",
            "order_no": order_no,
            "masked_order_no": _masked(order_no),
            "product_kind": "card_key",
            "kind_label": "卡密",
            "cause_text": opened["cause_text"],
            "may_follow_up": True,
            "ticket_url": f"/t/{ticket_no}",
            "messages": [
                {"author": "buyer", "body": "没收到卡密", "at": opened["messages"][0]["at"]}
            ],
        }
        assert opened["cause_text"].startswith("应付金额 ¥10.00。请在 ")  # the explanation's words
        async with transaction(pool) as conn:
            stored = await tickets.view(conn, ticket_no)
        assert (stored.ticket.contact, stored.order.order_no) == ("qq 12345", order_no)

        # The same ticket number read by another browser: the order masked.
        seen = (await stranger.get(f"/api/shop/tickets/{ticket_no}")).json()
        assert (seen["order_no"], seen["masked_order_no"]) == (None, _masked(order_no))
        assert _messages(seen) == [("buyer", "没收到卡密")]
        with_token = await stranger.get(
            f"/api/shop/tickets/{ticket_no.lower()}", headers={"X-Order-Token": order["token"]}
        )
        assert with_token.json()["order_no"] == order_no
        forged = await stranger.get(
            f"/api/shop/tickets/{ticket_no}", headers={"X-Order-Token": "A" * 24}
        )
        assert forged.json()["order_no"] is None

        async with transaction(pool) as conn:
            await tickets.reply(conn, ticket_no, "请提供付款截图", now=clock.now())
        en = {"Accept-Language": "en"}
        answered = (await client.get(f"/api/shop/tickets/{ticket_no}", headers=en)).json()
        assert (answered["status"], answered["status_label"]) == ("answered", "Support has replied")

        added = await stranger.post(
            f"/api/shop/tickets/{ticket_no}/messages", json={"message": "截图已发邮箱"}
        )
        assert added.status_code == 201, added.text
        body = added.json()
        assert (body["status"], body["order_no"], body["may_follow_up"]) == ("open", None, True)
        assert _messages(body) == [
            ("buyer", "没收到卡密"),
            ("operator", "请提供付款截图"),
            ("buyer", "截图已发邮箱"),
        ]
        timeline = (await client.get(f"/api/shop/orders/{order_no}")).json()["timeline"]
        assert timeline[-1]["label"] == f"已在客服工单 {ticket_no} 中补充留言"
        assert "截图已发邮箱" not in str(timeline)

        async with transaction(pool) as conn:
            await tickets.close(conn, ticket_no, now=clock.now())
        before = await _written(pool)
        closed = await client.post(
            f"/api/shop/tickets/{ticket_no}/messages", json={"message": "还在吗"}
        )
        assert closed.status_code == 409
        assert closed.json() == {
            "error": "ticket_closed_to_messages",
            "message": f"工单 {ticket_no} 已关闭，不能再补充留言。"
            "如仍需帮助，请从订单页提交新的工单",
        }
        closed_en = await client.post(
            f"/api/shop/tickets/{ticket_no}/messages", json={"message": "hello?"}, headers=en
        )
        assert closed_en.json()["message"].startswith(f"Ticket {ticket_no} is closed")
        assert await _written(pool) == before
        final = (await client.get(f"/api/shop/tickets/{ticket_no}")).json()
        assert (final["status"], final["may_follow_up"]) == ("closed", False)

    async def test_refused_input_is_clear_and_writes_nothing(
        self, client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn]
    ) -> None:
        await make_product(pool)
        order_no = (await place_order(client))["order_no"]
        ticket_no = (await _open(client, order_no, message="first"))["ticket_no"]
        before = await _written(pool)
        opening = f"/api/shop/orders/{order_no}/tickets"
        following = f"/api/shop/tickets/{ticket_no}/messages"
        cases: list[tuple[str, Any, int, str, str]] = [
            (opening, {"message": "   "}, 422, "ticket_message_invalid", "请描述遇到的问题"),
            (opening, {"message": "a\x00b"}, 422, "ticket_message_invalid", "请描述遇到的问题"),
            (opening, {"message": "x" * 2001}, 422, "ticket_message_invalid", "请描述遇到的问题"),
            (opening, {"message": "hi", "contact": "c" * 121}, 422, "ticket_contact_invalid",
             "联系方式最多 120 个字符"),
            (opening, {"message": "x" * 4001}, 422, "invalid_input", "输入有误"),
            (opening, {"message": "hi", "extra": 1}, 422, "invalid_input", "输入有误"),
            (opening, {}, 422, "invalid_input", "输入有误"),
            (opening, ["hi"], 422, "invalid_input", "输入有误"),
            ("/api/shop/orders/12345/tickets", {"message": "hi"}, 422, "order_number_invalid",
             "订单号"),
            (f"/api/shop/orders/{order_numbers.generate()}/tickets", {"message": "hi"}, 404,
             "order_not_found", ""),
            (following, {"message": ""}, 422, "ticket_message_invalid", "请描述遇到的问题"),
            (following, {"message": "hi", "contact": "x"}, 422, "invalid_input", "输入有误"),
            ("/api/shop/tickets/T1234567890123/messages", {"message": "hi"}, 404,
             "ticket_not_found", "请检查工单号"),
            ("/api/shop/tickets/garbage/messages", {"message": "hi"}, 404, "ticket_not_found",
             "请检查工单号"),
        ]  # fmt: skip
        for path, payload, status, code, words in cases:
            answer = await client.post(path, json=payload)
            assert answer.status_code == status, (path, payload, answer.text)
            assert answer.json()["error"] == code, (path, payload, answer.text)
            assert words in answer.json()["message"], (path, payload, answer.text)
        english = await client.post(
            opening, json={"message": ""}, headers={"Accept-Language": "en"}
        )
        assert english.json()["message"] == "Please describe the problem (1 to 2000 characters)"
        missing = await client.get("/api/shop/tickets/T1234567890123")
        assert (missing.status_code, missing.json()["error"]) == (404, "ticket_not_found")
        too_long = await client.get("/api/shop/tickets/" + "T" * 41)
        assert too_long.status_code == 422
        assert await _written(pool) == before

    async def test_budgets_are_the_forms(
        self, client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn]
    ) -> None:
        await make_product(pool)
        order_no = (await place_order(client))["order_no"]
        page = await client.get(f"/o/{order_no}/support")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        for i in range(2):  # the form and the API spend one budget
            sent = await client.post(
                f"/o/{order_no}/support", data={"csrf": csrf.group(1), "message": f"form {i}"}
            )
            assert sent.status_code == 303
        ticket_no = ""
        for i in range(3):
            ticket_no = (await _open(client, order_no, message=f"api {i}"))["ticket_no"]
        refused = await client.post(f"/api/shop/orders/{order_no}/tickets", json={"message": "6"})
        assert refused.status_code == 429
        assert refused.json() == {
            "error": "too_many_tickets",
            "message": "提交工单过于频繁，请 60 分钟后再试",
        }
        assert await count(pool, "SELECT count(*) FROM tickets") == 5

        for i in range(10):
            added = await client.post(
                f"/api/shop/tickets/{ticket_no}/messages", json={"message": f"more {i}"}
            )
            assert added.status_code == 201, added.text
        over = await client.post(
            f"/api/shop/tickets/{ticket_no}/messages", json={"message": "one more"}
        )
        assert over.status_code == 429
        assert over.json() == {
            "error": "too_many_messages",
            "message": "留言过于频繁，请 1440 分钟后再试",
        }
        async with transaction(pool) as conn:
            stored = await tickets.view(conn, ticket_no)
        assert [m.body for m in stored.messages] == ["api 2"] + [f"more {i}" for i in range(10)]


class TestPage:
    async def test_follow_up_form_on_the_ticket_page(
        self, client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn]
    ) -> None:
        await make_product(pool)
        order_no = (await place_order(client))["order_no"]
        ticket_no = (await _open(client, order_no, message="没收到卡密"))["ticket_no"]
        async with transaction(pool) as conn:
            await tickets.reply(conn, ticket_no, "请提供付款截图", now=clock.now())
        page = await client.get(f"/t/{ticket_no}")
        assert f'action="/t/{ticket_no}/messages"' in page.text and "补充留言" in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        before = await _written(pool)
        forged = await client.post(f"/t/{ticket_no}/messages", data={"message": "hi"})
        assert forged.status_code == 403 and await _written(pool) == before
        empty = await client.post(
            f"/t/{ticket_no}/messages", data={"csrf": csrf.group(1), "message": " "}
        )
        assert empty.status_code == 422 and "请描述遇到的问题（1 到 2000 个字符）" in empty.text
        assert await _written(pool) == before

        sent = await client.post(
            f"/t/{ticket_no}/messages",
            data={"csrf": csrf.group(1), "message": "截图在这里\r\n第二行"},
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/t/{ticket_no}?added=1#ticket-messages"
        shown = await client.get(sent.headers["location"])
        assert "留言已补充到工单，客服会在这里回复。" in shown.text
        assert "截图在这里\n第二行" in shown.text and "等待客服处理" in shown.text
        assert shown.text.index("请提供付款截图") < shown.text.index("截图在这里")

        async with transaction(pool) as conn:
            await tickets.close(conn, ticket_no, now=clock.now())
        closed_page = await client.get(f"/t/{ticket_no}?lang=en")
        assert 'id="follow-up"' not in closed_page.text
        assert f"Ticket {ticket_no} is closed and takes no more messages" in closed_page.text
        before = await _written(pool)
        refused = await client.post(
            f"/t/{ticket_no}/messages", data={"csrf": csrf.group(1), "message": "还在吗"}
        )
        assert refused.status_code == 409  # in English: ?lang=en above set the cookie
        assert f"Ticket {ticket_no} is closed and takes no more messages" in refused.text
        assert 'id="follow-up"' not in refused.text
        assert await _written(pool) == before
        unknown = await client.post(
            "/t/T1234567890123/messages", data={"csrf": csrf.group(1), "message": "hi"}
        )
        assert unknown.status_code == 404 and "check the ticket number" in unknown.text
        assert await _written(pool) == before


FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@pytest.fixture
async def open_ticket(client: httpx.AsyncClient, pool: AsyncConnectionPool[Conn]) -> str:
    await make_product(pool)
    order_no = (await place_order(client))["order_no"]
    ticket_no: str = (await _open(client, order_no, message="first"))["ticket_no"]
    return ticket_no


class TestFuzz:
    @FUZZ
    @given(
        body=st.one_of(
            JSON,
            st.fixed_dictionaries(
                {"message": st.one_of(st.text(max_size=50), JSON)}, optional={"x": JSON}
            ),
        ),
        raw=st.one_of(st.none(), st.binary(max_size=60)),
    )
    async def test_any_follow_up_is_answered_without_5xx(
        self,
        client: httpx.AsyncClient,
        pool: AsyncConnectionPool[Conn],
        open_ticket: str,
        body: Any,
        raw: bytes | None,
    ) -> None:
        before = await _written(pool)
        path = f"/api/shop/tickets/{open_ticket}/messages"
        if raw is None:
            answer = await client.post(path, json=body)
        else:
            answer = await client.post(path, content=raw, headers={"content-type": "text/plain"})
        assert answer.status_code in (201, 422, 429), (body, raw, answer.text)
        after = await _written(pool)
        if answer.status_code == 201:  # one message and one timeline entry, nothing else
            assert after == (before[0], before[1] + 1, before[2] + 1)
        else:
            assert after == before and answer.json()["message"]
