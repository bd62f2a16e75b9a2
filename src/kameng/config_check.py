"""Is this configuration safe to serve real buyers with? Every problem at once.

``kameng check`` prints them; ``kameng web`` and ``kameng worker`` refuse to
start while there is any (outside demo mode, where the sandbox and generated
secrets are the point).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from kameng.config import Settings, aes_key_from_base64, split_list
from kameng.demo_secrets import read_existing

MIN_SECRET_CHARS = 32
SANDBOX_PORT = 8001
WECHATPAY_SANDBOX_PORT = 8002
WECHATPAY_SANDBOX_DIR = "wechatpay-sandbox"  # kameng.sandbox.wechatpay.demo.SUBDIR
ALIPAY_SANDBOX_PORT = 8003
SANDBOX_KEYS_DIR = "sandbox"  # var/sandbox/: keys the Alipay and epay V2 sandboxes generate
# Values that were ever built in or printed in a README: publicly known.
KNOWN_DEMO_VALUES = frozenset(
    {
        "kameng-dev-secret-change-me",
        "kameng-sandbox-merchant-key",
        "test-secret-key",
        "test-merchant-key",
        "change-me",
        "changeme",
        "secret",
    }
)
HOW_TO_MAKE_A_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass(frozen=True)
class Problem:
    setting: str  # the variable to set, e.g. KAMENG_SECRET_KEY
    message: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


NO_CHANNEL = (
    "none enabled: add one with `kameng channel add NAME --kind epay_v1 --set url=https://… "
    "--set pid=… --set key=-` (README, Payment channels), or set KAMENG_EPAY_URL, "
    "KAMENG_EPAY_PID and KAMENG_EPAY_KEY (imported as a channel on first start)"
)


def problems(settings: Settings, *, enabled_channels: int | None = None) -> list[Problem]:
    """Every configuration problem; empty when the shop may start.

    ``enabled_channels``: enabled rows of ``payment_channels`` (None: not known).
    With one, the environment's gateway settings are only a first-run import
    that is over, so they are neither required nor checked."""
    if settings.demo:
        return []
    demo_values = _demo_values(settings)
    found = _secret_problems(settings, demo_values) + _card_key_problems(settings)
    if enabled_channels:
        return found
    if not _env_names_a_gateway(settings):
        return [*found, Problem("payment channel", NO_CHANNEL)]
    if settings.epay_enabled:
        found += _epay_problems(settings, demo_values)
    if settings.wechatpay_enabled:
        found += _wechatpay_problems(settings)
    found += _alipay_and_epay_v2_problems(settings)
    found += _plain_http_problems(settings)
    return found


def gateway_problems_only(found: list[Problem]) -> bool:
    """Every problem is the environment's gateways (a channel in the database
    would settle them)."""
    return bool(found) and all(
        p.setting == "payment channel"
        or p.setting.startswith(("KAMENG_EPAY_", "KAMENG_WECHATPAY_", "KAMENG_ALIPAY_"))
        for p in found
    )


def _env_names_a_gateway(settings: Settings) -> bool:
    return bool(
        settings.epay_enabled
        or settings.wechatpay_enabled
        or settings.alipay_app_id
        or settings.epay_v2_url
    )


def _plain_http_problems(settings: Settings) -> list[Problem]:
    """A live gateway is reached over https only: notifies are answered, queries
    trusted and refunds sent on that connection. Loopback addresses are
    sandboxes, already refused above."""
    urls = []
    if settings.epay_enabled and settings.epay_url:
        urls.append(("KAMENG_EPAY_URL", settings.epay_url))
    if settings.wechatpay_enabled:
        urls.append(("KAMENG_WECHATPAY_API_URL", settings.wechatpay_api_url))
    if settings.alipay_app_id:
        urls.append(("KAMENG_ALIPAY_GATEWAY_URL", settings.alipay_gateway_url))
    if settings.epay_v2_url:
        urls.append(("KAMENG_EPAY_V2_URL", settings.epay_v2_url))
    return [
        Problem(name, f"{url} is not https: a live gateway must be reached over https")
        for name, url in urls
        if urlsplit(url).scheme.lower() != "https" and not _points_at_sandbox(url)
    ]


def key_problems(settings: Settings) -> list[Problem]:
    """Problems with the keys alone (commands that seal or open card keys)."""
    if settings.demo:
        return []
    return _secret_problems(settings, _demo_values(settings)) + _card_key_problems(settings)


def _demo_values(settings: Settings) -> set[str]:
    values = set(KNOWN_DEMO_VALUES)
    demo = read_existing(settings.data_dir)
    if demo is not None:
        values |= {demo.secret_key, demo.epay_key}
    return values


def _secret_problems(settings: Settings, demo_values: set[str]) -> list[Problem]:
    name = "KAMENG_SECRET_KEY"
    secret = settings.secret_key
    if not secret:
        return [Problem(name, f"not set; generate one with: {HOW_TO_MAKE_A_SECRET}")]
    found = []
    if secret in demo_values:
        found.append(Problem(name, "is a demo value known to others; set a secret of your own"))
    elif len(secret) < MIN_SECRET_CHARS:
        found.append(
            Problem(
                name,
                f"too short ({len(secret)} characters, at least {MIN_SECRET_CHARS}); "
                f"generate one with: {HOW_TO_MAKE_A_SECRET}",
            )
        )
    if any(old in demo_values for old in settings.old_secrets()):
        found.append(Problem("KAMENG_OLD_SECRET_KEYS", "contains a demo value; remove it"))
    return found


def _card_key_problems(settings: Settings) -> list[Problem]:
    given = [("KAMENG_CARD_KEY_ENCRYPTION_KEY", settings.card_key_encryption_key or "")]
    given += [
        ("KAMENG_OLD_CARD_KEY_ENCRYPTION_KEYS", key)
        for key in split_list(settings.old_card_key_encryption_keys)
    ]
    found = []
    for name, value in given:
        if not value:
            continue
        try:
            aes_key_from_base64(value)
        except ValueError:
            found.append(Problem(name, "must be base64 of exactly 32 bytes"))
    return found


def _epay_problems(settings: Settings, demo_values: set[str]) -> list[Problem]:
    found = []
    off = (
        " (or KAMENG_EPAY_ENABLED=false to run without 易支付, or add a channel "
        "with `kameng channel add`)"
    )
    if not settings.epay_url:
        found.append(
            Problem("KAMENG_EPAY_URL", "not set: the address of your 易支付 gateway" + off)
        )
    elif _points_at_sandbox(settings.epay_url):
        found.append(
            Problem(
                "KAMENG_EPAY_URL",
                f"{settings.epay_url} points at a sandbox (this machine or port {SANDBOX_PORT}); "
                "set your live 易支付 gateway's address" + off,
            )
        )
    if not settings.epay_pid:
        found.append(Problem("KAMENG_EPAY_PID", "not set: your merchant id (商户号)" + off))
    if not settings.epay_key:
        found.append(Problem("KAMENG_EPAY_KEY", "not set: your merchant key (商户密钥)" + off))
    elif settings.epay_key in demo_values:
        found.append(
            Problem("KAMENG_EPAY_KEY", "is the sandbox's demo key; set your live merchant key")
        )
    return found


def _wechatpay_problems(settings: Settings) -> list[Problem]:
    off = " (or KAMENG_WECHATPAY_ENABLED=false)"
    found = []
    if _points_at_sandbox(settings.wechatpay_api_url, WECHATPAY_SANDBOX_PORT):
        found.append(
            Problem(
                "KAMENG_WECHATPAY_API_URL",
                f"{settings.wechatpay_api_url} points at a sandbox (this machine or port "
                f"{WECHATPAY_SANDBOX_PORT}); use https://api.mch.weixin.qq.com" + off,
            )
        )
    required = {
        "KAMENG_WECHATPAY_MCHID": settings.wechatpay_mchid,
        "KAMENG_WECHATPAY_APPID": settings.wechatpay_appid,
        "KAMENG_WECHATPAY_MERCHANT_SERIAL_NO": settings.wechatpay_merchant_serial_no,
        "KAMENG_WECHATPAY_PRIVATE_KEY_FILE": settings.wechatpay_private_key_file,
        "KAMENG_WECHATPAY_APIV3_KEY": settings.wechatpay_apiv3_key,
        "KAMENG_WECHATPAY_PUBLIC_KEY_FILE": settings.wechatpay_public_key_file,
        "KAMENG_WECHATPAY_PUBLIC_KEY_ID": settings.wechatpay_public_key_id,
    }
    found += [Problem(name, "not set" + off) for name, value in required.items() if not value]
    for name, path in (
        ("KAMENG_WECHATPAY_PRIVATE_KEY_FILE", settings.wechatpay_private_key_file),
        ("KAMENG_WECHATPAY_PUBLIC_KEY_FILE", settings.wechatpay_public_key_file),
    ):
        if path and f"/{WECHATPAY_SANDBOX_DIR}/" in f"/{path.as_posix()}/":
            found.append(Problem(name, f"{path} is the sandbox's key; use your merchant's"))
    return found


def _alipay_and_epay_v2_problems(settings: Settings) -> list[Problem]:
    """These gateways are on once configured: then none may use a sandbox."""
    found = []
    gateways = (
        (
            bool(settings.alipay_app_id),
            ("KAMENG_ALIPAY_GATEWAY_URL", settings.alipay_gateway_url),
            (
                ("KAMENG_ALIPAY_APP_PRIVATE_KEY_FILE", settings.alipay_app_private_key_file),
                ("KAMENG_ALIPAY_PUBLIC_KEY_FILE", settings.alipay_public_key_file),
            ),
        ),
        (
            bool(settings.epay_v2_url),
            ("KAMENG_EPAY_V2_URL", settings.epay_v2_url),
            (
                (
                    "KAMENG_EPAY_V2_MERCHANT_PRIVATE_KEY_FILE",
                    settings.epay_v2_merchant_private_key_file,
                ),
                (
                    "KAMENG_EPAY_V2_PLATFORM_PUBLIC_KEY_FILE",
                    settings.epay_v2_platform_public_key_file,
                ),
            ),
        ),
    )
    for configured, (url_name, url), files in gateways:
        if not configured:
            continue
        if _points_at_sandbox(url, ALIPAY_SANDBOX_PORT):
            found.append(Problem(url_name, f"{url} points at a sandbox (this machine)"))
        for name, path in files:
            if path and f"/{SANDBOX_KEYS_DIR}/" in f"/{path.as_posix()}/":
                found.append(Problem(name, f"{path} is a sandbox's key; use your merchant's"))
    return found


def _points_at_sandbox(url: str, sandbox_port: int = SANDBOX_PORT) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port == sandbox_port or host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def refusal(found: list[Problem], command: str) -> str:
    """The message a command prints when it refuses to start."""
    lines = [f"kameng {command}: refusing to start, the configuration is not safe to serve:"]
    lines += [f"  - {problem}" for problem in found]
    lines.append(
        "Set these in the environment or in .env (`kameng check` lists them), "
        "or run the demo with `kameng run` / KAMENG_DEMO=1."
    )
    return "\n".join(lines)
