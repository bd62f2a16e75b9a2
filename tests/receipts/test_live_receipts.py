"""Receipts end to end, everything over real sockets: the buyer orders on the live
shop with an e-mail, pays at the live epay sandbox (whose notify reaches the
shop over HTTP), the worker sends the receipts to the SMTP sink `kameng run`
starts, and the sink's page lists exactly what the buyer got."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from kameng.config import Settings
from kameng.sandbox.epay import create_app as create_epay
from kameng.sandbox.mail import MailSink
from kameng.sandbox.mail import create_app as create_sink
from tests.factories import Sessions, make_stocked_product
from tests.receipts.conftest import SENDER, receipts_to
from tests.support.live import free_port, live_settings, serve, serve_app

BUYER = "Buyer@Example.com"


async def delivered(http: httpx.AsyncClient, url: str) -> bool:
    return bool((await http.get(url)).json()["status"] == "delivered")


async def test_order_and_pay_on_the_live_shop_mails_exactly_two_receipts(
    db: Sessions, settings: Settings, worker_runtime: Any, run_jobs: Any, monkeypatch: Any
) -> None:
    epay_port, smtp_port = free_port(), free_port()
    shop_settings = live_settings(settings).model_copy(
        update={"epay_url": f"http://127.0.0.1:{epay_port}/"}
    )
    keys = (await make_stocked_product(db, settings, 2, price_cents=1050)).keys
    epay = create_epay(merchants={settings.epay_pid: settings.epay_key}, time_scale=0.0001)
    sink = create_sink(MailSink(), smtp=("127.0.0.1", smtp_port))
    with (
        serve(shop_settings) as shop_url,
        serve_app(epay, epay_port) as epay_url,
        serve_app(sink) as sink_url,
    ):
        monkeypatch.setattr(worker_runtime, "receipts", receipts_to(smtp_port, shop_url))
        async with httpx.AsyncClient(timeout=10, headers={"Accept-Language": "en"}) as http:
            created = await http.post(
                f"{shop_url}/api/shop/orders",
                json={"product": "GAME-10", "quantity": 1, "contact": BUYER},
            )
            assert created.status_code == 201, created.text
            order_no = created.json()["order_no"]
            cashier = await http.get(created.json()["pay_url"])
            trade = re.search(r'action="[^"]*/pay/(\d+)"', cashier.text)
            assert trade is not None
            await http.post(f"{epay_url}/pay/{trade.group(1)}")
            async with asyncio.timeout(10):
                url = f"{shop_url}/api/shop/orders/{order_no}"
                while not await delivered(http, url):  # noqa: ASYNC110 - polling the live shop
                    await asyncio.sleep(0.05)
            await run_jobs()
            mails = (await http.get(f"{sink_url}/messages")).json()
            page = (await http.get(f"{sink_url}/")).text
    assert [(m["to"], m["sender"], m["subject"]) for m in mails] == [
        ([BUYER], SENDER, f"Your order {order_no}"),
        ([BUYER], SENDER, f"Your goods are ready: order {order_no}"),
    ]
    assert mails[1]["text"] == (
        "Your order has been delivered.\n\n"
        f"Order number: {order_no}\n\n"
        "游戏点卡 10 元 × 1, 10.50 yuan\n\n"
        f"Your goods are on the order page:\n{shop_url}/o/{order_no}\n\n"
        "For your safety this e-mail does not contain them: the page shows them in the browser "
        "you ordered with, or after you enter your query password.\n\n"
        "-- \nYou receive this e-mail because this address was given when ordering.\n"
    )
    for mail in mails:
        for secret in keys[0]:
            assert secret not in mail["text"] and secret not in mail["html"]
    assert f"Your goods are ready: order {order_no}" in page and "Mail sink" in page
    assert keys[0][0] not in page and keys[0][1] not in page
