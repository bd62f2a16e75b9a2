"""The buyer's follow-up message (``tickets.service.follow_up``): kept on the
ticket, an answered ticket open again, the order's timeline told without the
words; refused on a closed ticket, on bad input and on an unknown number, with
nothing changed; and the budgets of ``tickets.limits``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn
from kameng.kit.i18n import translator
from kameng.limits.service import Limiter
from kameng.models.vocabulary import OrderEventType, TicketStatus
from kameng.orders import repository as orders_repo
from kameng.orders.explain import explain
from kameng.orders.texts import event_label
from kameng.tickets import limits
from kameng.tickets import service as tickets
from kameng.tickets.errors import (
    TicketClosed,
    TicketClosedToBuyer,
    TicketMessageInvalid,
    TicketNotFound,
    TooManyTicketMessages,
    TooManyTickets,
)
from kameng.tickets.states import ALLOWED
from tests.factories import count, make_order, make_product, transaction

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def _ticket(pool: AsyncConnectionPool[Conn], message: str = "没收到卡密") -> tuple[str, int]:
    await make_product(pool)
    order = await make_order(pool)
    async with transaction(pool) as conn:
        why = explain(
            order, await orders_repo.events_of(conn, order.id), translator("zh_CN"), now=T0
        )
        ticket = await tickets.open_ticket(
            conn, order=order, why=why, message=message, contact=None, now=T0
        )
    return ticket.ticket_no, order.id


async def _state(pool: AsyncConnectionPool[Conn], ticket_no: str) -> tuple[object, ...]:
    """Everything a refused follow-up must leave as it was."""
    async with transaction(pool) as conn:
        seen = await tickets.view(conn, ticket_no)
        events = await orders_repo.events_of(conn, seen.order.id)
    return (
        seen.ticket,
        [(m.author, m.body, m.created_at) for m in seen.messages],
        [(e.type, e.params) for e in events],
    )


def test_only_a_closed_ticket_refuses_the_buyer() -> None:
    assert {s for s, targets in ALLOWED.items() if TicketStatus.OPEN in targets} == {
        TicketStatus.OPEN,
        TicketStatus.ANSWERED,
    }
    assert ALLOWED[TicketStatus.CLOSED] == frozenset()


async def test_follow_up_reopens_an_answered_ticket(pool: AsyncConnectionPool[Conn]) -> None:
    ticket_no, order_id = await _ticket(pool)
    async with transaction(pool) as conn:
        await tickets.reply(conn, ticket_no, "请提供付款截图", now=T0 + timedelta(minutes=5))
    later = T0 + timedelta(minutes=9)
    async with transaction(pool) as conn:
        back = await tickets.follow_up(conn, ticket_no, "  截图在这里\r\n第二行  ", now=later)
    assert back.ticket_no == ticket_no
    async with transaction(pool) as conn:
        seen = await tickets.view(conn, ticket_no)
        events = await orders_repo.events_of(conn, order_id)
    assert (seen.ticket.status, seen.ticket.updated_at) == (TicketStatus.OPEN, later)
    assert [(m.author, m.body, m.created_at) for m in seen.messages] == [
        ("buyer", "没收到卡密", T0),
        ("operator", "请提供付款截图", T0 + timedelta(minutes=5)),
        ("buyer", "截图在这里\n第二行", later),
    ]
    # The timeline says a message was added, never its words (anyone with the
    # order number reads the timeline).
    last = events[-1]
    assert (last.type, last.actor, last.params, last.created_at) == (
        OrderEventType.TICKET_FOLLOWED_UP,
        "buyer",
        {"ticket": ticket_no},
        later,
    )
    assert event_label(last.type, last.params, translator("zh_CN")) == (
        f"已在客服工单 {ticket_no} 中补充留言"
    )
    assert event_label(last.type, last.params, translator("en")) == (
        f"A message was added to support ticket {ticket_no}"
    )
    async with transaction(pool) as conn:
        assert [t.ticket_no for t in await tickets.listing(conn)] == [ticket_no]


async def test_follow_up_on_an_open_ticket_keeps_it_open(pool: AsyncConnectionPool[Conn]) -> None:
    ticket_no, _ = await _ticket(pool)
    async with transaction(pool) as conn:
        await tickets.follow_up(
            conn, ticket_no, "补充：订单是昨天付的", now=T0 + timedelta(minutes=1)
        )
    async with transaction(pool) as conn:
        seen = await tickets.view(conn, ticket_no)
    assert seen.ticket.status == TicketStatus.OPEN
    assert [(m.author, m.body) for m in seen.messages] == [
        ("buyer", "没收到卡密"),
        ("buyer", "补充：订单是昨天付的"),
    ]


async def test_closed_ticket_refuses_and_nothing_changes(pool: AsyncConnectionPool[Conn]) -> None:
    ticket_no, _ = await _ticket(pool)
    async with transaction(pool) as conn:
        await tickets.close(conn, ticket_no, now=T0 + timedelta(minutes=1))
    before = await _state(pool, ticket_no)
    with pytest.raises(TicketClosedToBuyer) as refused:
        async with transaction(pool) as conn:
            await tickets.follow_up(conn, ticket_no, "还在吗", now=T0 + timedelta(minutes=2))
    assert isinstance(refused.value, TicketClosed)
    assert (refused.value.status, refused.value.code) == (409, "ticket_closed_to_messages")
    assert refused.value.translated(translator("zh_CN")) == (
        f"工单 {ticket_no} 已关闭，不能再补充留言。如仍需帮助，请从订单页提交新的工单"
    )
    assert refused.value.translated(translator("en")) == (
        f"Ticket {ticket_no} is closed and takes no more messages. If you still need help, "
        "open a new ticket from the order page"
    )
    assert await _state(pool, ticket_no) == before


@pytest.mark.parametrize("text", ["", "   \n ", "x" * 2001, "bad\x00byte", "\u202e"])
async def test_bad_message_is_refused_and_nothing_changes(
    pool: AsyncConnectionPool[Conn], text: str
) -> None:
    ticket_no, _ = await _ticket(pool)
    before = await _state(pool, ticket_no)
    with pytest.raises(TicketMessageInvalid) as refused:
        async with transaction(pool) as conn:
            await tickets.follow_up(conn, ticket_no, text, now=T0 + timedelta(minutes=1))
    assert refused.value.translated(translator("zh_CN")) == "请描述遇到的问题（1 到 2000 个字符）"
    assert await _state(pool, ticket_no) == before


async def test_a_stranger_guessing_numbers_gets_nothing_and_writes_nothing(
    pool: AsyncConnectionPool[Conn],
) -> None:
    ticket_no, _ = await _ticket(pool)
    before = await _state(pool, ticket_no)
    typo = ticket_no[:-1] + str((int(ticket_no[-1]) + 1) % 10)
    for guess in (typo, "T1234567890123"):
        with pytest.raises(TicketNotFound):
            async with transaction(pool) as conn:
                await tickets.follow_up(conn, guess, "我也要", now=T0)
        with pytest.raises(TicketNotFound):
            async with transaction(pool) as conn:
                await tickets.view(conn, guess)
    assert await _state(pool, ticket_no) == before
    assert await count(pool, "SELECT count(*) FROM ticket_messages") == 1
    assert await count(pool, "SELECT count(*) FROM tickets") == 1


async def test_budgets_per_ticket_and_per_address(pool: AsyncConnectionPool[Conn]) -> None:
    limiter = Limiter(pool)
    mine = limits.following_up("10.0.0.1", "T1000000000009")
    for _ in range(10):
        await limits.refuse_if_spent(limiter, mine, TooManyTicketMessages, T0)
        await limits.spend(limiter, mine, T0)
    with pytest.raises(TooManyTicketMessages) as per_ticket:
        await limits.refuse_if_spent(limiter, mine, TooManyTicketMessages, T0)
    assert (per_ticket.value.status, per_ticket.value.code) == (429, "too_many_messages")
    assert per_ticket.value.translated(translator("zh_CN")) == "留言过于频繁，请 1440 分钟后再试"
    # Another ticket from the same address still has room, until the address's 20.
    other = limits.following_up("10.0.0.1", "T2000000000008")
    for _ in range(10):
        await limits.refuse_if_spent(limiter, other, TooManyTicketMessages, T0)
        await limits.spend(limiter, other, T0)
    third = limits.following_up("10.0.0.1", "T3000000000007")
    with pytest.raises(TooManyTicketMessages) as per_address:
        await limits.refuse_if_spent(limiter, third, TooManyTicketMessages, T0)
    assert per_address.value.params == {"minutes": 60}
    # Another address is untouched; the address's window ends after an hour.
    await limits.refuse_if_spent(
        limiter, limits.following_up("10.0.0.2", "T3000000000007"), TooManyTicketMessages, T0
    )
    await limits.refuse_if_spent(limiter, third, TooManyTicketMessages, T0 + timedelta(hours=1))
    # Opening tickets has budgets of its own, unspent by messages.
    opening = limits.opening("10.0.0.1", "1234567890123452")
    await limits.refuse_if_spent(limiter, opening, TooManyTickets, T0)
    for _ in range(5):
        await limits.spend(limiter, opening, T0)
    with pytest.raises(TooManyTickets) as tickets_refused:
        await limits.refuse_if_spent(limiter, opening, TooManyTickets, T0)
    assert tickets_refused.value.params == {"minutes": 60}
