"""Settings, read from the environment (``KAMENG_*`` and ``DATABASE_URL``).

No secret has a built-in value. In demo mode (``kameng run``, or
``KAMENG_DEMO=1``) a random secret and a random sandbox merchant key are
generated on first start and kept in ``var/demo-secrets.json`` (mode 0600);
outside demo mode ``kameng web`` / ``kameng worker`` refuse to start until the
configuration passes ``kameng.config_check`` (``kameng check`` lists it all).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from kameng.kit.crypto import CardKeyCipher
    from kameng.kit.passwords import QueryPasswords

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Where the bundled 易支付 sandbox listens and which merchant it knows, in demo mode.
SANDBOX_EPAY_URL = "http://127.0.0.1:8001/"
SANDBOX_EPAY_PID = "1001"


def split_list(values: str) -> list[str]:
    """A list setting written as one variable: values separated by commas or blanks."""
    return [v for v in values.replace(",", " ").split() if v]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAMENG_", env_file=".env", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = PROJECT_ROOT / "var"
    # Demo mode: secrets come from var/demo-secrets.json and the sandbox is allowed.
    demo: bool = False
    # Tokens, query-password hashes and (unless given below) the card-key
    # encryption key derive from it. Required; at least 32 characters.
    secret_key: str | None = None
    # Secrets used before (comma-separated): card keys and query passwords made
    # under them still open until `kameng rekey-cards` has moved the stock.
    old_secret_keys: str = ""
    # AES-GCM key for card keys at rest, base64 of 32 bytes (derived from
    # secret_key when not given), and earlier ones (comma-separated base64).
    card_key_encryption_key: str | None = None
    old_card_key_encryption_keys: str = ""

    public_url: str = "http://127.0.0.1:8000"
    unpaid_ttl_seconds: int = 15 * 60
    display_timezone: str = "Asia/Shanghai"  # times shown to buyers
    # Connections of the whole web service; `kameng web --workers N` gives each
    # process db_pool_size // N (at least 2).
    db_pool_size: int = 20
    # How old the product list (and its stock figures) may be in each web process.
    catalog_cache_seconds: float = 1.0

    # 易支付 V1 gateway: no defaults outside demo mode (kameng check says what is missing).
    epay_url: str | None = None
    epay_pid: str | None = None
    epay_key: str | None = None
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

    # Days a refused or duplicate notify is kept raw in payment_notifies (the
    # notifies that brought money in are kept for good, with their payment).
    notify_log_retention_days: int = 30

    sandbox_time_scale: float = 1.0  # <1 speeds up the sandbox's notify retry schedule

    # -- Suppliers (issue 10): the engine's waits are multiplied by this (<1: tests, chaos run).
    supply_time_scale: float = 1.0
    supplier_timeout_seconds: float = 10.0  # a request with no answer by then is "unknown"
    # -- E-mail over SMTP: operator alerts (off unless host and recipients are set)
    # and buyers' receipts (off unless host and smtp_from are set).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_from: str = ""  # sender of buyers' receipts, e.g. shop@example.com
    alert_email_from: str = "kameng@localhost"
    alert_email_to: str = ""  # comma-separated

    def secret(self) -> str:
        if not self.secret_key:
            raise ValueError("KAMENG_SECRET_KEY is not set (see `kameng check`)")
        return self.secret_key

    def old_secrets(self) -> list[str]:
        return split_list(self.old_secret_keys)

    def aes_key(self) -> bytes:
        """The current card-key encryption key."""
        if self.card_key_encryption_key:
            return aes_key_from_base64(self.card_key_encryption_key)
        return self.derived_key("card-key-aes")

    def old_aes_keys(self) -> list[bytes]:
        """Card-key encryption keys that still open stock sealed before a rotation."""
        keys = [aes_key_from_base64(k) for k in split_list(self.old_card_key_encryption_keys)]
        keys += [_derive(secret, "card-key-aes") for secret in self.old_secrets()]
        current = self.aes_key()
        return [k for i, k in enumerate(keys) if k != current and k not in keys[:i]]

    def card_key_cipher(self) -> CardKeyCipher:
        """Seals with the current key, opens with it and every old one."""
        from kameng.kit.crypto import CardKeyCipher

        return CardKeyCipher(self.aes_key(), self.old_aes_keys())

    def query_passwords(self) -> QueryPasswords:
        from kameng.kit.passwords import QueryPasswords

        purpose = "query-password"
        return QueryPasswords(self.derived_key(purpose), self.old_derived_keys(purpose))

    def derived_key(self, purpose: str) -> bytes:
        return _derive(self.secret(), purpose)

    def old_derived_keys(self, purpose: str) -> list[bytes]:
        return [_derive(secret, purpose) for secret in self.old_secrets()]


def _derive(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}\x00{secret}".encode()).digest()


def aes_key_from_base64(value: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValueError("a card-key encryption key must be base64 of 32 bytes")
    return key


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; in demo mode, completed with the demo secrets."""
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if settings.demo:
        settings = with_demo_secrets(settings)
    return settings


def with_demo_secrets(settings: Settings) -> Settings:
    """Demo settings: what the environment leaves unset comes from the demo
    secrets file (var/demo-secrets.json) and the bundled sandbox."""
    from kameng.demo_secrets import load_or_create

    demo = load_or_create(settings.data_dir)
    return settings.model_copy(
        update={
            "secret_key": settings.secret_key or demo.secret_key,
            "epay_key": settings.epay_key or demo.epay_key,
            "epay_url": settings.epay_url or SANDBOX_EPAY_URL,
            "epay_pid": settings.epay_pid or SANDBOX_EPAY_PID,
        }
    )


@lru_cache
def get_settings() -> Settings:
    return load_settings()
