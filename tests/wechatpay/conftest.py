"""The shop wired to the WeChat Pay sandbox, both in-process over HTTP (ASGI).

The sandbox's keys are generated once per session under a temporary var/; a
test signs "as the platform" with the sandbox's own notifier, which is exactly
what a load generator or a harness reading var/ would do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kameng.config import Settings
from kameng.payments.gateways.registry import from_settings
from kameng.payments.gateways.wechatpay_v3 import WechatPayV3Gateway
from kameng.sandbox.wechatpay.app import create_app as create_sandbox
from kameng.sandbox.wechatpay.keys import Identity, load_or_create
from kameng.sandbox.wechatpay.notifier import Notifier
from kameng.web.app import create_app

SANDBOX = "http://wxpay.sandbox.test"
DESKTOP = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}
PHONE = {"user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Mobile/15E148"}


@pytest.fixture(scope="session")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("wechatpay-sandbox")
    load_or_create(directory)
    return directory


def wechat_settings(settings: Settings, identity: Identity) -> Settings:
    return settings.model_copy(
        update={
            "wechatpay_enabled": True,
            "wechatpay_api_url": SANDBOX,
            "wechatpay_mchid": identity.mchid,
            "wechatpay_appid": identity.appid,
            "wechatpay_merchant_serial_no": identity.merchant_serial_no,
            "wechatpay_private_key_file": identity.merchant_key_file,
            "wechatpay_apiv3_key": identity.apiv3_key,
            "wechatpay_public_key_file": identity.platform_public_key_file,
            "wechatpay_public_key_id": identity.public_key_id,
        }
    )


@dataclass
class Wired:
    shop: httpx.AsyncClient  # the buyer's browser on the shop
    phone: httpx.AsyncClient  # the buyer's WeChat on the sandbox
    sandbox: Any
    identity: Identity
    gateway: WechatPayV3Gateway
    settings: Settings
    shop_app: Any

    @property
    def notifier(self) -> Notifier:
        notifier: Notifier = self.sandbox.state.wechatpay
        return notifier

    async def order(self, quantity: int = 1) -> dict[str, Any]:
        response = await self.shop.post(
            "/api/shop/orders",
            json={"product": "GAME-10", "quantity": quantity, "gateway": "wechatpay"},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def status(self, order_no: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self.shop.get(f"/api/shop/orders/{order_no}")).json()
        return body

    async def post_notify(self, body: str | bytes, headers: dict[str, str]) -> httpx.Response:
        content = body.encode() if isinstance(body, str) else body
        return await self.shop.post("/notify/wechatpay", content=content, headers=headers)

    def paid_resource(self, order: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """The decrypted transaction a real TRANSACTION.SUCCESS notify carries."""
        resource: dict[str, Any] = {
            "appid": self.identity.appid,
            "mchid": self.identity.mchid,
            "out_trade_no": order["order_no"],
            "transaction_id": "4200000001202611251234567890",
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": "2026-11-25T20:00:00+08:00",
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {
                "total": order["amount_cents"],
                "payer_total": order["amount_cents"],
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        }
        resource.update(changes)
        return resource

    def signed_notify(self, resource: dict[str, Any]) -> tuple[str, dict[str, str]]:
        body = self.notifier.envelope("TRANSACTION.SUCCESS", "支付成功", "transaction", resource)
        return body, self.notifier.signed_headers(body)


@pytest.fixture
async def wired(
    db: Any,
    settings: Settings,
    pool: Any,
    sandbox_dir: Path,
    worker_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Wired]:
    (sandbox_dir / "trades.json").unlink(missing_ok=True)
    identity, _ = load_or_create(sandbox_dir)
    wsettings = wechat_settings(settings, identity)
    shop = create_app(wsettings, pool=pool)
    shop_transport = httpx.ASGITransport(
        app=shop, client=("127.0.0.1", 40002), raise_app_exceptions=False
    )
    sandbox = create_sandbox(data_dir=sandbox_dir, time_scale=0.0001, http_transport=shop_transport)
    sandbox_transport = httpx.ASGITransport(app=sandbox)
    registry = from_settings(wsettings, transport=sandbox_transport)
    shop.state.runtime.gateways = registry
    monkeypatch.setattr(worker_runtime, "gateways", registry)
    gateway = registry.get("wechatpay")
    assert isinstance(gateway, WechatPayV3Gateway)
    async with (
        sandbox.router.lifespan_context(sandbox),
        httpx.AsyncClient(transport=shop_transport, base_url="http://shop.test") as buyer,
        httpx.AsyncClient(transport=sandbox_transport, base_url=SANDBOX) as phone,
    ):
        yield Wired(buyer, phone, sandbox, identity, gateway, wsettings, shop)
    await gateway.aclose()


def sandbox_json(text: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(text)
    return body
