"""The 易支付 V1 sandbox as the payments tests use it: every notify is lost on
the way (so only asking the gateway, 主动查单, finds a payment), a buyer's
client to it, paying at its cashier, and the gateways that call it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from kameng.config import Settings
from kameng.payments.gateways.registry import GatewayRegistry, from_settings
from kameng.sandbox.epay import create_app as create_sandbox
from tests.factories import place_order

SANDBOX = "http://epay.sandbox.test"


def lost(request: httpx.Request) -> httpx.Response:
    return httpx.Response(502, text="bad gateway")  # every notify is lost on the way


@pytest.fixture
async def sandbox(settings: Settings) -> AsyncIterator[Any]:
    app = create_sandbox(
        merchants={settings.epay_pid: settings.epay_key},
        time_scale=0.0001,
        http_transport=httpx.MockTransport(lost),
    )
    yield app
    await app.state.epay.aclose()


@asynccontextmanager
async def buyer(sandbox: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client to the sandbox (its cashier and its /sandbox/... helpers)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url=SANDBOX
    ) as client:
        yield client


def gateways(settings: Settings, sandbox: Any) -> GatewayRegistry:
    """The shop's gateways, talking to the sandbox."""
    return from_settings(settings, transport=httpx.ASGITransport(app=sandbox))


async def open_cashier(epay: httpx.AsyncClient, order: dict[str, Any]) -> str:
    """The sandbox's trade number for an order (a place_order answer)."""
    cashier = await epay.get(order["pay_url"].removeprefix(SANDBOX))
    found = re.search(r'action="[^"]*/pay/(\d+)"', cashier.text)
    assert found is not None
    return found.group(1)


async def paid_at_gateway(client: httpx.AsyncClient, sandbox: Any) -> dict[str, Any]:
    """An order placed and paid at the sandbox's cashier (its notify lost): the
    place_order answer with the sandbox's ``trade_no``."""
    order = await place_order(client)
    async with buyer(sandbox) as epay:
        trade_no = await open_cashier(epay, order)
        assert (await epay.post(f"/pay/{trade_no}")).status_code == 302
    order["trade_no"] = trade_no
    return order
