"""Configured gateways by name. New kinds (Alipay, WeChat Pay, epay V2) register here."""

from __future__ import annotations

from pathlib import Path

import httpx

from kameng.config import Settings
from kameng.payments.gateways.alipay import AlipayGateway
from kameng.payments.gateways.base import Gateway
from kameng.payments.gateways.epay_v1 import EpayV1Gateway
from kameng.payments.gateways.epay_v2 import EpayV2Gateway
from kameng.payments.gateways.wechatpay_v3 import WechatPayV3Gateway


class GatewayRegistry:
    def __init__(self, gateways: list[Gateway]) -> None:
        self._by_name = {g.name: g for g in gateways}

    def get(self, name: str) -> Gateway | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return list(self._by_name)

    def all(self) -> list[Gateway]:
        return list(self._by_name.values())


def from_settings(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> GatewayRegistry:
    """``transport`` lets tests route the gateways' own HTTP calls to a sandbox in-process."""
    gateways: list[Gateway] = []
    # Fail closed: an incompletely configured gateway is not registered at all.
    if settings.epay_enabled and settings.epay_key and settings.epay_url and settings.epay_pid:
        gateways.append(
            EpayV1Gateway(
                name="epay",
                base_url=settings.epay_url,
                pid=settings.epay_pid,
                key=settings.epay_key,
                transport=transport,
            )
        )
    wechat = _wechatpay(settings, transport)
    if wechat is not None:
        gateways.append(wechat)
    gateways += _issue9_gateways(settings, transport)
    return GatewayRegistry(gateways)


def _wechatpay(
    settings: Settings, transport: httpx.AsyncBaseTransport | None
) -> WechatPayV3Gateway | None:
    """Registered only when enabled with every key present (fail closed)."""
    key_file, public_file = settings.wechatpay_private_key_file, settings.wechatpay_public_key_file
    if not (settings.wechatpay_enabled and key_file and public_file):
        return None
    return WechatPayV3Gateway(
        name="wechatpay",
        api_url=settings.wechatpay_api_url,
        mchid=settings.wechatpay_mchid,
        appid=settings.wechatpay_appid,
        merchant_serial_no=settings.wechatpay_merchant_serial_no,
        private_key_pem=key_file.read_text(),
        apiv3_key=settings.wechatpay_apiv3_key,
        platform_public_key_pem=public_file.read_text(),
        platform_public_key_id=settings.wechatpay_public_key_id,
        refund_notify_url=f"{settings.public_url.rstrip('/')}/notify/wechatpay/refund",
        transport=transport,
    )


def _read(path: Path | None) -> str:
    return path.read_text() if path is not None and path.is_file() else ""


def _issue9_gateways(
    settings: Settings, transport: httpx.AsyncBaseTransport | None
) -> list[Gateway]:
    """Alipay and epay V2: registered only when every setting they need is there."""
    found: list[Gateway] = []
    alipay_private = _read(settings.alipay_app_private_key_file)
    alipay_public = _read(settings.alipay_public_key_file)
    if settings.alipay_app_id and alipay_private and alipay_public:
        found.append(
            AlipayGateway(
                name="alipay",
                gateway_url=settings.alipay_gateway_url,
                app_id=settings.alipay_app_id,
                app_private_key=alipay_private,
                alipay_public_key=alipay_public,
                seller_id=settings.alipay_seller_id,
                pay_mode=settings.alipay_pay_mode,
                transport=transport,
            )
        )
    merchant_private = _read(settings.epay_v2_merchant_private_key_file)
    platform_public = _read(settings.epay_v2_platform_public_key_file)
    if settings.epay_v2_url and settings.epay_v2_pid and merchant_private and platform_public:
        found.append(
            EpayV2Gateway(
                name="epay_v2",
                base_url=settings.epay_v2_url,
                pid=settings.epay_v2_pid,
                merchant_private_key=merchant_private,
                platform_public_key=platform_public,
                transport=transport,
            )
        )
    return found
