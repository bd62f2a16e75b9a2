"""Gateways by name. In the running shop they come from the database
(``kameng.payments.channels.live.LiveGateways``); ``from_settings`` builds them
from the environment (the first-run import, tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx

from kameng.config import Settings
from kameng.kit.i18n import Translator
from kameng.payments.gateways.alipay import AlipayGateway
from kameng.payments.gateways.base import Gateway
from kameng.payments.gateways.epay_v1 import EpayV1Gateway
from kameng.payments.gateways.epay_v2 import EpayV2Gateway
from kameng.payments.gateways.wechatpay_v3 import WechatPayV3Gateway

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from kameng.db.connection import Conn


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """A channel as the checkout lists it."""

    name: str
    kind: str  # kameng.models.vocabulary.ChannelKind
    title: str  # the adapter's gettext id: the label when the operator gave none
    label_zh: str = ""
    label_en: str = ""

    def label(self, t: Translator) -> str:
        chosen = self.label_zh if t.locale.startswith("zh") else self.label_en
        return chosen or t(self.title)


class GatewayRegistry:
    """A fixed set of gateways (tests, commands); ``LiveGateways`` follows the database."""

    def __init__(self, gateways: list[Gateway]) -> None:
        self._by_name = {g.name: g for g in gateways}
        self._disabled: frozenset[str] = frozenset()

    @property
    def version(self) -> int | None:
        """The channels' version the gateways were built from (None: a fixed set)."""
        return None

    @property
    def listening(self) -> bool:
        """Changes arrive by NOTIFY, so requests need not read the version."""
        return False

    async def refresh(self, conn: Conn, max_age: float = 0.0) -> None:
        """Bring the gateways up to date, unless checked less than ``max_age``
        seconds ago (a fixed set is always up to date)."""

    async def refresh_from(self, pool: AsyncConnectionPool[Conn], max_age: float = 1.0) -> None:
        """As ``refresh``, on a connection of its own, at most once per ``max_age`` seconds."""

    def is_disabled(self, name: str) -> bool:
        """A channel of that name exists but takes no payments (off, or unusable)."""
        return name in self._disabled

    def channels(self) -> list[ChannelInfo]:
        """The channels buyers may choose, in the order they are shown."""
        return [ChannelInfo(g.name, kind_of(g), g.title) for g in self._by_name.values()]

    def get(self, name: str) -> Gateway | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return list(self._by_name)

    def all(self) -> list[Gateway]:
        return list(self._by_name.values())


def kind_of(gateway: Gateway) -> str:
    """The channel kind of an adapter."""
    for kind, cls in (
        ("epay_v1", EpayV1Gateway),
        ("epay_v2", EpayV2Gateway),
        ("alipay", AlipayGateway),
        ("wechatpay_v3", WechatPayV3Gateway),
    ):
        if isinstance(gateway, cls):
            return kind
    return "epay_v1"


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


class GatewayJobDeps(Protocol):
    """What jobs that talk to gateways take from the worker
    (kameng.worker.app.WorkerRuntime)."""

    @property
    def pool(self) -> AsyncConnectionPool[Conn]: ...

    @property
    def gateways(self) -> GatewayRegistry: ...
