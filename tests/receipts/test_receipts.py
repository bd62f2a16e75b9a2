"""E-mail receipts: deferred with the event, sent once, in the buyer's language,
never carrying the goods; a mail server that is down delays the mail, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from kameng.config import Settings
from kameng.db.connection import fetch_all
from kameng.kit import clock
from kameng.models.vocabulary import Actor, OrderEventType
from kameng.orders.states import append_event
from kameng.receipts.service import is_email
from kameng.sandbox.mail import MailSink
from tests.factories import (
    Sessions,
    count,
    make_order,
    make_paid_order,
    make_stocked_product,
    transaction,
)
from tests.receipts.conftest import SENDER, receipts_to
from tests.support.live import free_port

BUYER = "buyer@example.com"

CREATED_EN = """Thank you for your order. Keep this number: it finds your order.

Order number: {no}

游戏点卡 10 元 × 1, 10.00 yuan

Pay and follow your order on its page:
http://shop.test/o/{no}

Lost the page? Look the order up with its number, or your contact and query password:
http://shop.test/query

-- 
You receive this e-mail because this address was given when ordering.
"""


async def receipt_jobs(pool: Any) -> list[tuple[str, int]]:
    async with transaction(pool) as conn:
        rows = await fetch_all(
            conn,
            "SELECT e.type, j.attempts FROM procrastinate_jobs j "
            "JOIN order_events e ON e.id = (j.args->>'event_id')::bigint "
            "WHERE j.task_name = 'receipts.send' ORDER BY j.id",
        )
    return [(r[0], r[1]) for r in rows]


class TestDeferred:
    @pytest.mark.parametrize("contact", [None, "13800138000", "not an address@", "a@b"])
    async def test_no_job_without_an_email_contact(
        self, pool: Any, db: Sessions, settings: Settings, contact: str | None
    ) -> None:
        await make_stocked_product(db, settings, keys=1)
        await make_paid_order(pool, settings, contact=contact)
        assert await receipt_jobs(pool) == []

    async def test_created_and_delivered_each_defer_one_job(
        self, pool: Any, db: Sessions, settings: Settings
    ) -> None:
        await make_stocked_product(db, settings, keys=1)
        await make_paid_order(pool, settings, contact=BUYER)
        assert await receipt_jobs(pool) == [("created", 0), ("delivered", 0)]

    async def test_no_delivery_job_while_waiting_for_stock(
        self, pool: Any, db: Sessions, settings: Settings
    ) -> None:
        await make_stocked_product(db, settings, keys=0)
        await make_paid_order(pool, settings, contact=BUYER)
        assert await receipt_jobs(pool) == [("created", 0)]

    def test_what_counts_as_an_email(self) -> None:
        assert is_email(" Buyer.Name+shop@mail.example.cn ")
        for contact in (None, "", "13800138000", "a@b", "a b@c.com", "a@b@c.com", "@x.com"):
            assert not is_email(contact), contact


class TestSent:
    async def test_created_then_delivered_exact_mails_without_the_goods(
        self, pool: Any, db: Sessions, settings: Settings, receipts_on: MailSink, run_jobs: Any
    ) -> None:
        stocked = await make_stocked_product(db, settings, keys=1)
        order = await make_paid_order(pool, settings, contact=BUYER, locale="en")
        await run_jobs()
        mails = receipts_on.mails()
        no = order.order_no
        assert [(m.to, m.sender, m.subject) for m in mails] == [
            ([BUYER], SENDER, f"Your order {no}"),
            ([BUYER], SENDER, f"Your goods are ready: order {no}"),
        ]
        assert mails[0].text == CREATED_EN.format(no=no)
        assert f"http://shop.test/o/{no}" in mails[1].text
        assert "does not contain them" in mails[1].text
        assert f'<a href="http://shop.test/o/{no}">' in mails[1].html
        number, password = stocked.keys[0]
        for mail in mails:
            for secret in (number, password):
                assert secret not in mail.text and secret not in mail.html
        states = await count(pool, "SELECT count(*) FROM receipt_mails WHERE state = 'sent'")
        assert states == 2

    async def test_in_the_buyers_language(
        self, pool: Any, db: Sessions, settings: Settings, receipts_on: MailSink, run_jobs: Any
    ) -> None:
        await make_stocked_product(db, settings, keys=1)
        order = await make_order(pool, contact=BUYER, locale="zh_CN", settings=settings)
        await run_jobs()
        (mail,) = receipts_on.mails()
        assert mail.subject == f"您的订单 {order.order_no}"
        assert '<html lang="zh-CN">' in mail.html

    async def test_refund_notice(
        self, pool: Any, db: Sessions, settings: Settings, receipts_on: MailSink, run_jobs: Any
    ) -> None:
        await make_stocked_product(db, settings, keys=1)
        order = await make_paid_order(pool, settings, contact=BUYER, locale="en")
        await run_jobs()
        async with transaction(pool) as conn:
            # The params the refund state machine writes (kameng.refunds.states).
            await append_event(
                conn,
                order_id=order.id,
                event=OrderEventType.REFUND_SUCCEEDED,
                actor=Actor.GATEWAY,
                now=clock.now(),
                params={"refund_no": f"{order.order_no}R01", "amount_cents": 450, "attempts": 1},
            )
        await run_jobs()
        last = receipts_on.mails()[-1]
        assert last.subject == f"Refund for order {order.order_no}"
        assert last.text.startswith("4.50 yuan has been refunded for your order.\n")

    async def test_a_job_run_twice_sends_once(
        self, pool: Any, db: Sessions, settings: Settings, receipts_on: MailSink, run_jobs: Any
    ) -> None:
        await make_stocked_product(db, settings, keys=1)
        await make_order(pool, contact=BUYER, settings=settings)
        await run_jobs()
        async with transaction(pool) as conn:  # the same job again (a retry, a re-run)
            await conn.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args) "
                "SELECT queue_name, task_name, args FROM procrastinate_jobs "
                "WHERE task_name = 'receipts.send'"
            )
        await run_jobs()
        assert len(receipts_on.mails()) == 1
        sent = await count(pool, "SELECT count(*) FROM receipt_mails WHERE attempts = 1")
        assert sent == 1

    async def test_off_without_smtp_settings(
        self, pool: Any, db: Sessions, settings: Settings, sink: Any, run_jobs: Any
    ) -> None:
        await make_stocked_product(db, settings, keys=1)
        await make_order(pool, contact=BUYER, settings=settings)
        await run_jobs()
        assert sink[0].mails() == []
        assert await count(pool, "SELECT count(*) FROM receipt_mails") == 0


class TestServerDown:
    async def test_retried_with_back_off_and_the_order_unaffected(
        self,
        pool: Any,
        db: Sessions,
        settings: Settings,
        worker_runtime: Any,
        run_jobs: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await make_stocked_product(db, settings, keys=1)
        port = free_port()  # nothing listens there
        monkeypatch.setattr(worker_runtime, "receipts", receipts_to(port))
        order = await make_paid_order(pool, settings, contact=BUYER, locale="en")
        assert order.status == "delivered"
        await run_jobs()
        async with transaction(pool) as conn:
            jobs = await fetch_all(
                conn,
                "SELECT status, attempts, scheduled_at > now() FROM procrastinate_jobs "
                "WHERE task_name = 'receipts.send' ORDER BY id",
            )
            rows = await fetch_all(
                conn, "SELECT kind, state, attempts FROM receipt_mails ORDER BY id"
            )
        assert [tuple(j) for j in jobs] == [("todo", 1, True), ("todo", 1, True)]
        assert [tuple(r) for r in rows] == [("created", "failed", 1), ("delivered", "failed", 1)]
        # The server comes back; the retries fall due.
        mails = MailSink()
        from kameng.sandbox.mail import smtp_server

        with smtp_server(mails, "127.0.0.1", port):
            async with transaction(pool) as conn:
                await conn.execute(
                    "UPDATE procrastinate_jobs SET scheduled_at = now() "
                    "WHERE task_name = 'receipts.send'"
                )
            await run_jobs()
            await run_jobs()
        assert [m.subject for m in mails.mails()] == [
            f"Your order {order.order_no}",
            f"Your goods are ready: order {order.order_no}",
        ]
        async with transaction(pool) as conn:
            rows = await fetch_all(conn, "SELECT state, attempts FROM receipt_mails ORDER BY id")
        assert [tuple(r) for r in rows] == [("sent", 2), ("sent", 2)]
