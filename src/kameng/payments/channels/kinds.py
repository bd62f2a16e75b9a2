"""What each channel kind needs, and how its gateway adapter is built from that.

A setting is either plain (stored as JSON, shown by ``kameng channel list``) or
secret (sealed at rest, never shown). Key material is PEM text; the CLI reads
it from a file (``--set-file``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from kameng.models.vocabulary import ChannelKind
from kameng.payments.gateways.alipay import AlipayGateway
from kameng.payments.gateways.base import Gateway
from kameng.payments.gateways.epay_v1 import EpayV1Gateway
from kameng.payments.gateways.epay_v2 import EpayV2Gateway
from kameng.payments.gateways.wechatpay_v3 import WechatPayV3Gateway


@dataclass(frozen=True, slots=True)
class SettingSpec:
    key: str
    help: str
    secret: bool = False
    required: bool = True
    default: str = ""
    url: bool = False  # must be https unless it points at this machine


def _s(key: str, help: str, **kw: object) -> SettingSpec:
    return SettingSpec(key, help, **kw)  # type: ignore[arg-type]


SPECS: dict[ChannelKind, tuple[SettingSpec, ...]] = {
    ChannelKind.EPAY_V1: (
        _s("url", "the epay site, e.g. https://pay.example.com/", url=True),
        _s("pid", "merchant id (商户ID)"),
        _s("key", "merchant key (商户密钥, MD5)", secret=True),
    ),
    ChannelKind.EPAY_V2: (
        _s("url", "the epay site, e.g. https://pay.example.com/", url=True),
        _s("pid", "merchant id (商户ID)"),
        _s("merchant_private_key", "merchant RSA private key (PEM)", secret=True),
        _s("platform_public_key", "platform RSA public key (PEM)"),
    ),
    ChannelKind.ALIPAY: (
        _s(
            "gateway_url",
            "Alipay gateway",
            default="https://openapi.alipay.com/gateway.do",
            url=True,
        ),
        _s("app_id", "app id (APPID)"),
        _s("app_private_key", "the app's RSA2 private key (PEM or bare base64)", secret=True),
        _s("alipay_public_key", "Alipay's public key (PEM or bare base64)"),
        _s("seller_id", "seller id (PID), checked on every notify when set", required=False),
        _s("pay_mode", "page (PC cashier) or wap (phone)", default="page"),
    ),
    ChannelKind.WECHATPAY_V3: (
        _s("api_url", "API host", default="https://api.mch.weixin.qq.com", url=True),
        _s("mchid", "merchant id (商户号)"),
        _s("appid", "app id bound to the merchant"),
        _s("merchant_serial_no", "serial number of the merchant API certificate"),
        _s("private_key", "merchant API private key (PEM)", secret=True),
        _s("apiv3_key", "APIv3 key (32 characters)", secret=True),
        _s("platform_public_key", "微信支付公钥 (PEM)"),
        _s("platform_public_key_id", "its id, PUB_KEY_ID_…"),
    ),
}

# What a buyer sees when the operator gave no label.
DEFAULT_LABELS: dict[ChannelKind, tuple[str, str]] = {
    ChannelKind.EPAY_V1: ("易支付", "Epay"),
    ChannelKind.EPAY_V2: ("易支付 V2", "Epay V2"),
    ChannelKind.ALIPAY: ("支付宝", "Alipay"),
    ChannelKind.WECHATPAY_V3: ("微信支付", "WeChat Pay"),
}


# What the sandboxes of `kameng run` generate (keys and the ids that come with
# them, under var/sandbox/; the epay V1 merchant key in var/demo-secrets.json).
# When they are generated anew, a demo channel's copies are brought in line
# (``service.resync_sandbox``); nothing else of the channel is touched.
SANDBOX_ISSUED: dict[ChannelKind, tuple[str, ...]] = {
    ChannelKind.EPAY_V1: ("key",),
    ChannelKind.EPAY_V2: ("merchant_private_key", "platform_public_key"),
    ChannelKind.ALIPAY: ("app_private_key", "alipay_public_key"),
    ChannelKind.WECHATPAY_V3: (
        "mchid",
        "appid",
        "merchant_serial_no",
        "private_key",
        "apiv3_key",
        "platform_public_key",
        "platform_public_key_id",
    ),
}


def url_setting(kind: ChannelKind) -> str:
    """The setting that says where the gateway is (every kind has one)."""
    return next(s.key for s in SPECS[kind] if s.url)


def spec_of(kind: ChannelKind, key: str) -> SettingSpec | None:
    return next((s for s in SPECS[kind] if s.key == key), None)


def missing(kind: ChannelKind, values: Mapping[str, str]) -> list[str]:
    """Required settings that are empty: such a channel stays disabled."""
    return [s.key for s in SPECS[kind] if s.required and not values.get(s.key, "").strip()]


Transport = httpx.AsyncBaseTransport | None


def _epay_v1(name: str, v: Mapping[str, str], transport: Transport) -> Gateway:
    return EpayV1Gateway(
        name=name, base_url=v["url"], pid=v["pid"], key=v["key"], transport=transport
    )


def _epay_v2(name: str, v: Mapping[str, str], transport: Transport) -> Gateway:
    return EpayV2Gateway(
        name=name,
        base_url=v["url"],
        pid=v["pid"],
        merchant_private_key=v["merchant_private_key"],
        platform_public_key=v["platform_public_key"],
        transport=transport,
    )


def _alipay(name: str, v: Mapping[str, str], transport: Transport) -> Gateway:
    return AlipayGateway(
        name=name,
        gateway_url=v["gateway_url"],
        app_id=v["app_id"],
        app_private_key=v["app_private_key"],
        alipay_public_key=v["alipay_public_key"],
        seller_id=v.get("seller_id", ""),
        pay_mode=v.get("pay_mode") or "page",
        transport=transport,
    )


def _wechatpay(name: str, v: Mapping[str, str], transport: Transport) -> Gateway:
    return WechatPayV3Gateway(
        name=name,
        api_url=v["api_url"],
        mchid=v["mchid"],
        appid=v["appid"],
        merchant_serial_no=v["merchant_serial_no"],
        private_key_pem=v["private_key"],
        apiv3_key=v["apiv3_key"],
        platform_public_key_pem=v["platform_public_key"],
        platform_public_key_id=v["platform_public_key_id"],
        transport=transport,
    )


_BUILDERS: dict[ChannelKind, Callable[[str, Mapping[str, str], Transport], Gateway]] = {
    ChannelKind.EPAY_V1: _epay_v1,
    ChannelKind.EPAY_V2: _epay_v2,
    ChannelKind.ALIPAY: _alipay,
    ChannelKind.WECHATPAY_V3: _wechatpay,
}


def build(
    kind: ChannelKind, name: str, values: Mapping[str, str], transport: Transport = None
) -> Gateway:
    """The adapter for a complete channel (raises on unusable values, e.g. a bad PEM)."""
    complete = {s.key: values.get(s.key, "") or s.default for s in SPECS[kind]}
    return _BUILDERS[kind](name, complete, transport)
