"""How `kameng run` points the shop at the WeChat Pay sandbox: the sandbox's
files under var/ become the shop's WeChat Pay settings."""

from __future__ import annotations

from pathlib import Path

from kameng.sandbox.wechatpay.keys import Identity, load_or_create

# Beside the other sandboxes' keys (data_dir/sandbox/<gateway>/).
SUBDIR = Path("sandbox") / "wechatpay"


def identity(data_dir: Path) -> tuple[Identity, bool]:
    return load_or_create(data_dir / SUBDIR)


def shop_env(identity: Identity, api_url: str) -> dict[str, str]:
    return {
        "KAMENG_WECHATPAY_ENABLED": "true",
        "KAMENG_WECHATPAY_API_URL": api_url,
        "KAMENG_WECHATPAY_MCHID": identity.mchid,
        "KAMENG_WECHATPAY_APPID": identity.appid,
        "KAMENG_WECHATPAY_MERCHANT_SERIAL_NO": identity.merchant_serial_no,
        "KAMENG_WECHATPAY_PRIVATE_KEY_FILE": str(identity.merchant_key_file),
        "KAMENG_WECHATPAY_APIV3_KEY": identity.apiv3_key,
        "KAMENG_WECHATPAY_PUBLIC_KEY_FILE": str(identity.platform_public_key_file),
        "KAMENG_WECHATPAY_PUBLIC_KEY_ID": identity.public_key_id,
    }
