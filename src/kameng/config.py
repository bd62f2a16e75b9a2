"""Settings, read from the environment (``KAMENG_*`` and ``DATABASE_URL``)."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Development-only secret: `make run` works out of the box, but a deployment
# must set KAMENG_SECRET_KEY (the README says so). Everything secret is derived
# from it, so one value is all an operator has to keep.
DEV_SECRET = "kameng-dev-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAMENG_", env_file=".env", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = PROJECT_ROOT / "var"
    secret_key: str = DEV_SECRET
    # AES-GCM key for card keys at rest, base64 of 32 bytes. Derived from
    # secret_key when not given, so rotating one is a deliberate act.
    card_key_encryption_key: str | None = None

    public_url: str = "http://127.0.0.1:8000"
    unpaid_ttl_seconds: int = 15 * 60
    display_timezone: str = "Asia/Shanghai"  # times shown to buyers
    # Connections of the whole web service; `kameng web --workers N` gives each
    # process db_pool_size // N (at least 2).
    db_pool_size: int = 20
    # How old the product list (and its stock figures) may be in each web process.
    catalog_cache_seconds: float = 1.0

    # 易支付 V1 gateway. The defaults point at the bundled sandbox.
    epay_url: str = "http://127.0.0.1:8001/"
    epay_pid: str = "1001"
    epay_key: str = "kameng-sandbox-merchant-key"
    epay_enabled: bool = True

    # WeChat Pay API v3 (微信支付), 微信支付公钥 mode. Off unless enabled and every
    # value is set; `kameng run` points it at the bundled sandbox's keys.
    wechatpay_enabled: bool = False
    wechatpay_api_url: str = "https://api.mch.weixin.qq.com"
    wechatpay_mchid: str = ""
    wechatpay_appid: str = ""
    wechatpay_merchant_serial_no: str = ""
    wechatpay_private_key_file: Path | None = None  # the merchant API key (PEM)
    wechatpay_apiv3_key: str = ""  # 32 characters
    wechatpay_public_key_file: Path | None = None  # 微信支付公钥 (PEM)
    wechatpay_public_key_id: str = ""  # PUB_KEY_ID_…

    # -- Alipay and 易支付 V2 (issue 9): each stays off until all it needs is set.
    # Key files hold PEM (or Alipay's bare base64); `kameng run` points them at
    # the keys its sandboxes generate under var/sandbox/.
    alipay_gateway_url: str = "https://openapi.alipay.com/gateway.do"
    alipay_app_id: str = ""
    alipay_app_private_key_file: Path | None = None
    alipay_public_key_file: Path | None = None  # Alipay's key, not the app's
    alipay_seller_id: str = ""  # checked on every notify when set
    alipay_pay_mode: str = "page"  # page (PC cashier) or wap (phone)
    epay_v2_url: str = ""
    epay_v2_pid: str = ""
    epay_v2_merchant_private_key_file: Path | None = None
    epay_v2_platform_public_key_file: Path | None = None

    sandbox_time_scale: float = 1.0  # <1 speeds up the sandbox's notify retry schedule

    def aes_key(self) -> bytes:
        if self.card_key_encryption_key:
            key = base64.b64decode(self.card_key_encryption_key)
            if len(key) != 32:
                raise ValueError("KAMENG_CARD_KEY_ENCRYPTION_KEY must be base64 of 32 bytes")
            return key
        return self.derived_key("card-key-aes")

    def derived_key(self, purpose: str) -> bytes:
        return hashlib.sha256(f"{purpose}\x00{self.secret_key}".encode()).digest()


@lru_cache
def get_settings() -> Settings:
    return Settings()
