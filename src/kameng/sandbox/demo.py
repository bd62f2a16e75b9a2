"""How `kameng run` and the sandbox commands set up the newer sandboxes: keys
generated once under ``data_dir/sandbox/<gateway>/``, trades kept in a JSON file
beside them, and the shop's settings that point at both."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from kameng.config import Settings
from kameng.sandbox.keys import KeyPair, ensure_keypair
from kameng.sandbox.persist import JsonFile

ALIPAY_APP_ID = "2021000000000001"
ALIPAY_SELLER_ID = "2088000000000001"
EPAY_V2_PID = "1002"


def alipay_dir(data_dir: Path) -> Path:
    return data_dir / "sandbox" / "alipay"


def alipay_keys(data_dir: Path) -> tuple[KeyPair, KeyPair]:
    """(the merchant app's keypair, Alipay's platform keypair)."""
    directory = alipay_dir(data_dir)
    return ensure_keypair(directory, "app"), ensure_keypair(directory, "alipay")


def alipay_shop_env(data_dir: Path, gateway_url: str) -> dict[str, str]:
    app, platform = alipay_keys(data_dir)
    return {
        "KAMENG_ALIPAY_APP_ID": ALIPAY_APP_ID,
        "KAMENG_ALIPAY_GATEWAY_URL": gateway_url,
        "KAMENG_ALIPAY_APP_PRIVATE_KEY_FILE": str(app.private_path),
        "KAMENG_ALIPAY_PUBLIC_KEY_FILE": str(platform.public_path),
        "KAMENG_ALIPAY_SELLER_ID": ALIPAY_SELLER_ID,
    }


def alipay_app(settings: Settings) -> tuple[FastAPI, list[str]]:
    """The Alipay sandbox app and the lines saying where its keys and trades are."""
    from kameng.sandbox.alipay import create_app

    app_keys, platform = alipay_keys(settings.data_dir)
    state = alipay_dir(settings.data_dir) / "trades.json"
    app = create_app(
        app_id=settings.alipay_app_id or ALIPAY_APP_ID,
        app_public_pem=app_keys.public_pem(),
        alipay_private_pem=platform.private_pem(),
        seller_id=settings.alipay_seller_id or ALIPAY_SELLER_ID,
        time_scale=settings.sandbox_time_scale,
        state_file=JsonFile(state),
    )
    lines = [
        f"app id {settings.alipay_app_id or ALIPAY_APP_ID}",
        f"merchant app keys: {app_keys.private_path} / {app_keys.public_path}",
        f"Alipay platform keys: {platform.private_path} / {platform.public_path}",
        f"trades: {state}",
    ]
    return app, lines


def epay_v2_dir(data_dir: Path) -> Path:
    return data_dir / "sandbox" / "epay_v2"


def epay_v2_keys(data_dir: Path) -> tuple[KeyPair, KeyPair]:
    """(the merchant's keypair, the platform's keypair)."""
    directory = epay_v2_dir(data_dir)
    return ensure_keypair(directory, "merchant"), ensure_keypair(directory, "platform")


def epay_v2_shop_env(data_dir: Path, base_url: str) -> dict[str, str]:
    merchant, platform = epay_v2_keys(data_dir)
    return {
        "KAMENG_EPAY_V2_URL": base_url,
        "KAMENG_EPAY_V2_PID": EPAY_V2_PID,
        "KAMENG_EPAY_V2_MERCHANT_PRIVATE_KEY_FILE": str(merchant.private_path),
        "KAMENG_EPAY_V2_PLATFORM_PUBLIC_KEY_FILE": str(platform.public_path),
    }


def epay_v2_app(settings: Settings) -> tuple[FastAPI, list[str]]:
    """The 易支付 V2 sandbox app and the lines saying where its keys and trades are."""
    from kameng.sandbox.epay_v2 import create_app

    merchant, platform = epay_v2_keys(settings.data_dir)
    state = epay_v2_dir(settings.data_dir) / "trades.json"
    pid = settings.epay_v2_pid or EPAY_V2_PID
    app = create_app(
        merchants={pid: merchant.public_pem()},
        platform_private_pem=platform.private_pem(),
        time_scale=settings.sandbox_time_scale,
        state_file=JsonFile(state),
    )
    lines = [
        f"merchant pid {pid}",
        f"merchant keys: {merchant.private_path} / {merchant.public_path}",
        f"platform keys: {platform.private_path} / {platform.public_path}",
        f"trades: {state}",
    ]
    return app, lines
