"""The environment's gateway settings (``KAMENG_EPAY_*``, ``KAMENG_WECHATPAY_*``,
``KAMENG_ALIPAY_*``, ``KAMENG_EPAY_V2_*``) as channel drafts: imported once,
when the database has no channel yet. Only complete gateways are drafted,
under the names their notify URLs always had (epay, wechatpay, alipay, epay_v2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kameng.config import Settings
from kameng.config_check import Problem, gateway_problems_only, problems
from kameng.models.vocabulary import ChannelKind
from kameng.payments.channels.service import ChannelDraft


def _read(path: Path | None) -> str:
    return path.read_text() if path is not None and path.is_file() else ""


def drafts_from_settings(settings: Settings) -> list[ChannelDraft]:
    drafts = []
    if settings.epay_enabled and settings.epay_key and settings.epay_url and settings.epay_pid:
        drafts.append(
            ChannelDraft(
                name="epay",
                kind=ChannelKind.EPAY_V1,
                values={
                    "url": settings.epay_url,
                    "pid": settings.epay_pid,
                    "key": settings.epay_key,
                },
                sort_order=10,
            )
        )
    wechat_private = _read(settings.wechatpay_private_key_file)
    wechat_public = _read(settings.wechatpay_public_key_file)
    if settings.wechatpay_enabled and wechat_private and wechat_public:
        drafts.append(
            ChannelDraft(
                name="wechatpay",
                kind=ChannelKind.WECHATPAY_V3,
                values={
                    "api_url": settings.wechatpay_api_url,
                    "mchid": settings.wechatpay_mchid,
                    "appid": settings.wechatpay_appid,
                    "merchant_serial_no": settings.wechatpay_merchant_serial_no,
                    "private_key": wechat_private,
                    "apiv3_key": settings.wechatpay_apiv3_key,
                    "platform_public_key": wechat_public,
                    "platform_public_key_id": settings.wechatpay_public_key_id,
                },
                sort_order=20,
            )
        )
    alipay_private = _read(settings.alipay_app_private_key_file)
    alipay_public = _read(settings.alipay_public_key_file)
    if settings.alipay_app_id and alipay_private and alipay_public:
        drafts.append(
            ChannelDraft(
                name="alipay",
                kind=ChannelKind.ALIPAY,
                values={
                    "gateway_url": settings.alipay_gateway_url,
                    "app_id": settings.alipay_app_id,
                    "app_private_key": alipay_private,
                    "alipay_public_key": alipay_public,
                    "seller_id": settings.alipay_seller_id,
                    "pay_mode": settings.alipay_pay_mode,
                },
                sort_order=30,
            )
        )
    merchant_private = _read(settings.epay_v2_merchant_private_key_file)
    platform_public = _read(settings.epay_v2_platform_public_key_file)
    if settings.epay_v2_url and settings.epay_v2_pid and merchant_private and platform_public:
        drafts.append(
            ChannelDraft(
                name="epay_v2",
                kind=ChannelKind.EPAY_V2,
                values={
                    "url": settings.epay_v2_url,
                    "pid": settings.epay_v2_pid,
                    "merchant_private_key": merchant_private,
                    "platform_public_key": platform_public,
                },
                sort_order=40,
            )
        )
    # A draft that is incomplete anyway (e.g. WeChat without its mchid) is
    # imported disabled: the operator completes it with `kameng channel set`.
    from kameng.payments.channels import kinds

    return [d if not kinds.missing(d.kind, d.values) else _disabled(d) for d in drafts]


def _disabled(draft: ChannelDraft) -> ChannelDraft:
    return ChannelDraft(
        name=draft.name,
        kind=draft.kind,
        values=draft.values,
        enabled=False,
        sort_order=draft.sort_order,
    )


def problems_with_channels(
    settings: Settings, database: Callable[[Settings], tuple[str, Any]]
) -> list[Problem]:
    """The configuration's problems (``kameng check``, ``web``, ``worker``); the
    database is asked for enabled channels only when the environment's gateways
    are all that is missing (they are then only a first-run import)."""
    from kameng.payments.channels.repository import enabled_count_at

    found = problems(settings)
    if not gateway_problems_only(found):
        return found
    url, _server = database(settings)  # the handle kept while asking
    return problems(settings, enabled_channels=enabled_count_at(url))
