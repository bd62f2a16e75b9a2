"""How ``kameng run`` points the shop at its payment sandboxes: the gateway
variables its web and worker processes get, and the demo channels of a kept
database brought in line with the sandboxes' keys (``var/sandbox`` may have
been deleted, and its keys generated anew, while ``var/pg`` was kept)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from kameng.config import Settings, load_settings

PREFIX = "KAMENG_"


def gateway_env(
    settings: Settings,
    epay: str,
    wechatpay: str,
    alipay: str,
    epay_v2: str,
    echo: Callable[[str], None],
) -> dict[str, str]:
    """The children's gateway variables: the four sandboxes (base URLs given),
    Alipay and epay V2 only unless real ones are configured. Generates the
    sandboxes' keys on first use."""
    from kameng.sandbox.demo import alipay_shop_env, epay_v2_shop_env
    from kameng.sandbox.wechatpay import demo

    env = {"KAMENG_EPAY_URL": epay}
    identity, created = demo.identity(settings.data_dir)
    if created:
        echo(f"WeChat Pay sandbox: generated keys in {identity.directory}")
    env |= demo.shop_env(identity, wechatpay)
    if not settings.alipay_app_id:
        env |= alipay_shop_env(settings.data_dir, f"{alipay}gateway.do")
    if not settings.epay_v2_url:
        env |= epay_v2_shop_env(settings.data_dir, epay_v2)
    return env


def wechatpay_dir(settings: Settings) -> Path:
    from kameng.sandbox.wechatpay import demo

    return settings.data_dir / demo.SUBDIR


def children_settings(env: Mapping[str, str]) -> Settings:
    """The settings web and worker read: this process's, with ``env``'s
    ``KAMENG_*`` variables on top, in demo mode (as ``KAMENG_DEMO=1`` gives them)."""
    fields = {k.removeprefix(PREFIX).lower(): v for k, v in env.items() if k.startswith(PREFIX)}
    return load_settings(**(fields | {"demo": True}))


async def resync_channels(database_url: str, env: Mapping[str, str]) -> list[str]:
    """The demo channels that point at these sandboxes, given their keys when
    they differ (never a channel pointing anywhere else). The names changed."""
    from kameng.demo import resync_channels as resync

    return await resync(database_url, children_settings(env))
