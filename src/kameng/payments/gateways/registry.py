"""Configured gateways by name. New kinds (Alipay, WeChat Pay, epay V2) register here."""

from __future__ import annotations

import httpx

from kameng.config import Settings
from kameng.payments.gateways.base import Gateway
from kameng.payments.gateways.epay_v1 import EpayV1Gateway


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
    if settings.epay_enabled and settings.epay_key:
        gateways.append(
            EpayV1Gateway(
                name="epay",
                base_url=settings.epay_url,
                pid=settings.epay_pid,
                key=settings.epay_key,
                transport=transport,
            )
        )
    return GatewayRegistry(gateways)
