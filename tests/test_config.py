"""Safe configuration: generated demo secrets, refusal to serve with unsafe
settings, and ``kameng check`` listing every problem."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg_pool import AsyncConnectionPool
from typer.testing import CliRunner

from kameng.cli import app
from kameng.config import Settings, get_settings, load_settings
from kameng.config_check import problems
from kameng.db.connection import Conn, transaction
from kameng.demo_secrets import demo_secrets_path, load_or_create
from kameng.kit import clock
from kameng.models.vocabulary import ChannelKind
from kameng.payments.channels import service
from kameng.payments.channels.service import ChannelDraft

GOOD_SECRET = "x" * 40
LIVE = {
    "KAMENG_SECRET_KEY": GOOD_SECRET,
    "KAMENG_EPAY_URL": "https://pay.example.com/",
    "KAMENG_EPAY_PID": "2001",
    "KAMENG_EPAY_KEY": "a-live-merchant-key-of-some-length",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """No KAMENG_* from outside, no .env, data in a fresh directory."""
    for name in list(os.environ):
        if name.startswith("KAMENG_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # .env is read from the working directory
    monkeypatch.setenv("KAMENG_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def settings_of(**values: str) -> Settings:
    return Settings(_env_file=None, data_dir=Path("/nonexistent"), **values)  # type: ignore[arg-type]


# -- demo secrets ------------------------------------------------------------


def test_demo_secrets_are_created_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create(tmp_path / "var")
    path = demo_secrets_path(tmp_path / "var")
    assert first.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.secret_key) >= 32 and len(first.epay_key) >= 24
    again = load_or_create(tmp_path / "var")
    assert (again.secret_key, again.epay_key) == (first.secret_key, first.epay_key)
    other = load_or_create(tmp_path / "elsewhere")
    assert other.secret_key != first.secret_key and other.epay_key != first.epay_key


def test_demo_mode_uses_the_generated_secrets_for_shop_and_sandbox(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shop = load_settings(demo=True)
    env.setenv("KAMENG_DEMO", "1")
    child = load_settings()  # what `kameng run`'s children read
    demo = load_or_create(tmp_path / "var")
    assert shop.secret_key == child.secret_key == demo.secret_key
    assert shop.epay_key == child.epay_key == demo.epay_key
    assert shop.epay_pid == "1001" and shop.epay_url == "http://127.0.0.1:8001/"
    assert problems(child) == []


def test_without_demo_mode_nothing_secret_has_a_value(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.secret_key is None and settings.epay_key is None
    assert settings.epay_url is None and settings.epay_pid is None
    with pytest.raises(ValueError, match="KAMENG_SECRET_KEY"):
        settings.aes_key()


# -- problems ------------------------------------------------------------------


def test_a_complete_live_configuration_has_no_problem() -> None:
    live = {k.removeprefix("KAMENG_").lower(): v for k, v in LIVE.items()}
    assert problems(settings_of(**live)) == []


@pytest.mark.parametrize(
    ("change", "setting", "words"),
    [
        ({"secret_key": ""}, "KAMENG_SECRET_KEY", "not set"),
        ({"secret_key": "short-secret"}, "KAMENG_SECRET_KEY", "too short (12 characters"),
        ({"secret_key": "kameng-dev-secret-change-me"}, "KAMENG_SECRET_KEY", "demo value"),
        ({"epay_url": ""}, "KAMENG_EPAY_URL", "not set"),
        ({"epay_url": "http://127.0.0.1:8001/"}, "KAMENG_EPAY_URL", "points at a sandbox"),
        ({"epay_url": "http://localhost/"}, "KAMENG_EPAY_URL", "points at a sandbox"),
        ({"epay_url": "http://[::1]/pay/"}, "KAMENG_EPAY_URL", "points at a sandbox"),
        ({"epay_url": "https://pay.example.com:8001/"}, "KAMENG_EPAY_URL", "port 8001"),
        ({"epay_url": "http://pay.example.com/"}, "KAMENG_EPAY_URL", "is not https"),
        ({"epay_url": "HTTP://203.0.113.7/"}, "KAMENG_EPAY_URL", "is not https"),
        ({"epay_pid": ""}, "KAMENG_EPAY_PID", "not set"),
        ({"epay_key": ""}, "KAMENG_EPAY_KEY", "not set"),
        ({"epay_key": "kameng-sandbox-merchant-key"}, "KAMENG_EPAY_KEY", "sandbox's demo key"),
        ({"card_key_encryption_key": "abc"}, "KAMENG_CARD_KEY_ENCRYPTION_KEY", "32 bytes"),
        ({"old_secret_keys": "test-secret-key"}, "KAMENG_OLD_SECRET_KEYS", "demo value"),
    ],
)
def test_each_problem_names_what_to_set(change: dict[str, str], setting: str, words: str) -> None:
    live = {k.removeprefix("KAMENG_").lower(): v for k, v in LIVE.items()}
    found = problems(settings_of(**{**live, **change}))
    assert [p.setting for p in found] == [setting]
    assert words in found[0].message


def test_the_generated_demo_secret_is_refused_outside_demo_mode(tmp_path: Path) -> None:
    demo = load_or_create(tmp_path)
    live = {k.removeprefix("KAMENG_").lower(): v for k, v in LIVE.items()}
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path, **{**live, "secret_key": demo.secret_key}
    )
    assert [(p.setting, "demo value" in p.message) for p in problems(settings)] == [
        ("KAMENG_SECRET_KEY", True)
    ]


def test_without_any_payment_channel_the_shop_is_refused() -> None:
    found = problems(settings_of(secret_key=GOOD_SECRET, epay_enabled="false"))
    assert [p.setting for p in found] == ["payment channel"]
    assert "kameng channel add" in found[0].message and "KAMENG_EPAY_URL" in found[0].message
    assert problems(settings_of(secret_key=GOOD_SECRET, epay_enabled="false"), enabled_channels=0)


def test_with_channels_in_the_database_no_gateway_variable_is_needed() -> None:
    assert problems(settings_of(secret_key=GOOD_SECRET), enabled_channels=1) == []
    assert (
        problems(settings_of(secret_key=GOOD_SECRET, epay_enabled="false"), enabled_channels=2)
        == []
    )
    # The keys still matter.
    assert [p.setting for p in problems(settings_of(), enabled_channels=1)] == ["KAMENG_SECRET_KEY"]


# -- commands ------------------------------------------------------------------


def test_check_lists_every_problem_at_once(env: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("✗")] == [
        "✗ KAMENG_SECRET_KEY",
        "✗ KAMENG_EPAY_URL",
        "✗ KAMENG_EPAY_PID",
        "✗ KAMENG_EPAY_KEY",
    ]
    assert lines[-1].startswith("4 configuration problem(s)")


def test_check_passes_a_live_configuration(env: pytest.MonkeyPatch) -> None:
    for name, value in LIVE.items():
        env.setenv(name, value)
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "configuration OK"


def test_check_in_demo_mode_says_so(env: pytest.MonkeyPatch) -> None:
    env.setenv("KAMENG_DEMO", "1")
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "demo mode" in result.output


@pytest.mark.parametrize("command", ["web", "worker"])
@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, "KAMENG_SECRET_KEY: not set"),
        ({**LIVE, "KAMENG_SECRET_KEY": "too-short"}, "KAMENG_SECRET_KEY: too short"),
        (
            {**LIVE, "KAMENG_SECRET_KEY": "kameng-dev-secret-change-me"},
            "KAMENG_SECRET_KEY: is a demo value",
        ),
        ({**LIVE, "KAMENG_EPAY_URL": "http://127.0.0.1:8001/"}, "KAMENG_EPAY_URL: http://127."),
        ({**LIVE, "KAMENG_EPAY_KEY": ""}, "KAMENG_EPAY_KEY: not set"),
    ],
)
def test_web_and_worker_refuse_to_start(
    env: pytest.MonkeyPatch, command: str, variables: dict[str, str], named: str
) -> None:
    for name, value in variables.items():
        env.setenv(name, value)
    result = CliRunner().invoke(app, [command])
    assert result.exit_code == 2, result.output
    assert f"kameng {command}: refusing to start" in result.output
    assert f"  - {named}" in result.output


def test_the_installed_command_refuses_too(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KAMENG_")}
    environment["KAMENG_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "kameng", "web", "--port", "1"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "KAMENG_SECRET_KEY: not set" in done.stderr
    assert done.stdout == ""


def test_import_cards_needs_a_secret(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "keys.txt").write_text("A1 p1\n")
    result = CliRunner().invoke(app, ["import-cards", "--product", "X", str(tmp_path / "keys.txt")])
    assert result.exit_code == 2, result.output
    assert "KAMENG_SECRET_KEY: not set" in result.output


def test_wechatpay_pointing_at_its_sandbox_is_refused(tmp_path: Path) -> None:
    live = {k.removeprefix("KAMENG_").lower(): v for k, v in LIVE.items()}
    sandbox_keys = tmp_path / "var" / "wechatpay-sandbox"
    settings = settings_of(
        **live,
        wechatpay_enabled="true",
        wechatpay_api_url="http://127.0.0.1:8002",
        wechatpay_mchid="1900000001",
        wechatpay_appid="wx0000000000000001",
        wechatpay_merchant_serial_no="ABC",
        wechatpay_private_key_file=str(sandbox_keys / "merchant_key.pem"),
        wechatpay_apiv3_key="k" * 32,
        wechatpay_public_key_file=str(tmp_path / "pub.pem"),
    )
    assert [p.setting for p in problems(settings)] == [
        "KAMENG_WECHATPAY_API_URL",
        "KAMENG_WECHATPAY_PUBLIC_KEY_ID",
        "KAMENG_WECHATPAY_PRIVATE_KEY_FILE",
    ]


def test_alipay_and_epay_v2_pointing_at_sandboxes_are_refused(tmp_path: Path) -> None:
    live = {k.removeprefix("KAMENG_").lower(): v for k, v in LIVE.items()}
    keys = tmp_path / "var" / "sandbox" / "alipay"
    settings = settings_of(
        **live,
        alipay_app_id="2021000000000001",
        alipay_gateway_url="http://127.0.0.1:8003/gateway.do",
        alipay_app_private_key_file=str(keys / "app_private.pem"),
        alipay_public_key_file=str(tmp_path / "alipay_public.pem"),
        epay_v2_url="http://localhost:9000/",
    )
    assert [p.setting for p in problems(settings)] == [
        "KAMENG_ALIPAY_GATEWAY_URL",
        "KAMENG_ALIPAY_APP_PRIVATE_KEY_FILE",
        "KAMENG_EPAY_V2_URL",
    ]  # loopback sandboxes are named once, not also for plain http


def test_live_gateways_must_use_https(tmp_path: Path) -> None:
    live = {k.removeprefix("KAMENG_").lower(): v for k, v in LIVE.items()}
    settings = settings_of(
        **live,
        wechatpay_enabled="true",
        wechatpay_api_url="http://api.mch.weixin.qq.com",
        alipay_app_id="2021000000000001",
        alipay_gateway_url="http://openapi.alipay.com/gateway.do",
        alipay_app_private_key_file=str(tmp_path / "app_private.pem"),
        alipay_public_key_file=str(tmp_path / "alipay_public.pem"),
        epay_v2_url="https://pay.example.com/",
    )
    plain = [p.setting for p in problems(settings) if "is not https" in p.message]
    assert plain == ["KAMENG_WECHATPAY_API_URL", "KAMENG_ALIPAY_GATEWAY_URL"]


async def test_check_accepts_enabled_channels_in_the_database_instead_of_variables(
    env: pytest.MonkeyPatch, pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    env.setenv("DATABASE_URL", str(settings.database_url))
    env.setenv("KAMENG_SECRET_KEY", GOOD_SECRET)
    refused = CliRunner().invoke(app, ["check"])
    assert refused.exit_code == 1, refused.output
    assert [line.split(":")[0] for line in refused.output.splitlines() if "✗" in line] == [
        "✗ KAMENG_EPAY_URL",
        "✗ KAMENG_EPAY_PID",
        "✗ KAMENG_EPAY_KEY",
    ]
    values = {"url": "https://pay.example.com/", "pid": "2002", "key": "a-live-key-of-some-length"}
    async with transaction(pool) as conn:
        await service.add(
            conn,
            ChannelDraft("shop-epay", ChannelKind.EPAY_V1, values),
            cipher=settings.card_key_cipher(),
            now=clock.now(),
        )
    accepted = CliRunner().invoke(app, ["check"])
    assert accepted.exit_code == 0, accepted.output
    assert accepted.output.strip() == "configuration OK"
    async with transaction(pool) as conn:
        await service.change(
            conn, "shop-epay", enabled=False, cipher=settings.card_key_cipher(), now=clock.now()
        )
    env.setenv("KAMENG_EPAY_ENABLED", "false")
    get_settings.cache_clear()
    neither = CliRunner().invoke(app, ["check"])
    assert neither.exit_code == 1, neither.output
    assert "✗ payment channel: none enabled" in neither.output
