"""`make run` with `var/sandbox` deleted but `var/pg` kept: the sandboxes generate
new keys, and the demo channels (imported from the environment on the first
run) are given them before the shop starts. Only channels pointing at this
run's local sandboxes change, only their sandbox-issued values, and only in
demo mode; a channel pointed at a live gateway keeps its keys."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from kameng import cli_demo
from kameng.config import Settings, load_settings
from kameng.db.connection import Conn, transaction
from kameng.demo import resync_channels
from kameng.kit import clock
from kameng.models.vocabulary import ChannelKind
from kameng.payments.channels import repository, service
from kameng.payments.channels.env_import import drafts_from_settings
from kameng.payments.channels.service import ChannelDraft

# Where `make run` serves the sandboxes (epay V1, WeChat Pay, Alipay, epay V2).
SANDBOXES = ("http://127.0.0.1:8001/", "http://127.0.0.1:8002", "http://127.0.0.1:8003/")
EPAY_V2 = "http://127.0.0.1:8004/"
LIVE = "https://pay.example.com/"


def sandboxes(parent: Settings) -> dict[str, str]:
    """The gateway variables `kameng run` gives its children (keys made if missing)."""
    return cli_demo.gateway_env(parent, *SANDBOXES, EPAY_V2, echo=lambda line: None)


async def channels(pool: AsyncConnectionPool[Conn], settings: Settings) -> dict[str, Any]:
    """Every channel's values (secrets opened), switch and the table's version."""
    async with transaction(pool) as conn:
        version, rows = await repository.load_all(conn)
    cipher = settings.card_key_cipher()
    found: dict[str, Any] = {r.name: (r.enabled, service.values_of(r, cipher)) for r in rows}
    return {"version": version, **found}


def read(path: str) -> str:
    return Path(path).read_text()


@pytest.fixture
def parent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Settings:
    """`kameng run`'s own settings, with its data directory (var/) in tmp_path."""
    monkeypatch.setenv("KAMENG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("KAMENG_SECRET_KEY", "KAMENG_ALIPAY_APP_ID", "KAMENG_EPAY_V2_URL"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(demo=True)


async def test_regenerated_sandbox_keys_reach_the_demo_channels_and_nothing_else(
    pool: AsyncConnectionPool[Conn], parent: Settings, database_url: str, tmp_path: Path
) -> None:
    first_env = sandboxes(parent)
    first = cli_demo.children_settings(first_env)
    cipher = first.card_key_cipher()
    async with transaction(pool) as conn:  # the first run's import (web or worker)
        imported = await service.import_once(
            conn, drafts_from_settings(first), cipher=cipher, now=clock.now()
        )
        # The operator pointed epay_v2 at a live gateway, with its own keys, and
        # added a live Alipay channel.
        await service.change(
            conn,
            "epay_v2",
            values={"url": LIVE, "merchant_private_key": "LIVE-PRIVATE"},
            cipher=cipher,
            now=clock.now(),
        )
        live_alipay = {
            "app_id": "2021009999999999",
            "app_private_key": "LIVE-APP-PRIVATE",
            "alipay_public_key": "LIVE-ALIPAY-PUBLIC",
        }
        await service.add(
            conn,
            ChannelDraft("alipay-live", ChannelKind.ALIPAY, live_alipay),
            cipher=cipher,
            now=clock.now(),
        )
    assert imported == ["epay", "wechatpay", "alipay", "epay_v2"]
    before = await channels(pool, first)
    assert await cli_demo.resync_channels(database_url, first_env) == []  # in line: nothing written
    assert await channels(pool, first) == before

    old_key = read(first_env["KAMENG_ALIPAY_APP_PRIVATE_KEY_FILE"])
    assert before["alipay"][1]["app_private_key"] == old_key
    shutil.rmtree(tmp_path / "sandbox")  # var/sandbox deleted, var/pg kept
    env = sandboxes(parent)
    assert read(env["KAMENG_ALIPAY_APP_PRIVATE_KEY_FILE"]) != old_key
    assert await cli_demo.resync_channels(database_url, env) == ["wechatpay", "alipay"]

    after = await channels(pool, first)
    assert after["version"] == before["version"] + 2
    assert after["alipay"] == (
        True,
        before["alipay"][1]
        | {
            "app_private_key": read(env["KAMENG_ALIPAY_APP_PRIVATE_KEY_FILE"]),
            "alipay_public_key": read(env["KAMENG_ALIPAY_PUBLIC_KEY_FILE"]),
        },
    )
    assert after["wechatpay"] == (
        True,
        before["wechatpay"][1]
        | {
            "mchid": env["KAMENG_WECHATPAY_MCHID"],
            "appid": env["KAMENG_WECHATPAY_APPID"],
            "merchant_serial_no": env["KAMENG_WECHATPAY_MERCHANT_SERIAL_NO"],
            "private_key": read(env["KAMENG_WECHATPAY_PRIVATE_KEY_FILE"]),
            "apiv3_key": env["KAMENG_WECHATPAY_APIV3_KEY"],
            "platform_public_key": read(env["KAMENG_WECHATPAY_PUBLIC_KEY_FILE"]),
            "platform_public_key_id": env["KAMENG_WECHATPAY_PUBLIC_KEY_ID"],
        },
    )
    assert after["wechatpay"][1] != before["wechatpay"][1]
    # Untouched: epay V1 (its key lives in var/demo-secrets.json, kept), the
    # channel pointed at a live gateway, and the live channel.
    for name in ("epay", "epay_v2", "alipay-live"):
        assert after[name] == before[name], name
    assert after["epay_v2"][1]["merchant_private_key"] == "LIVE-PRIVATE"
    # A second start changes nothing more.
    assert await cli_demo.resync_channels(database_url, env) == []
    assert await channels(pool, first) == after


async def test_outside_demo_mode_no_channel_is_resynced(
    pool: AsyncConnectionPool[Conn], parent: Settings, database_url: str, tmp_path: Path
) -> None:
    first = cli_demo.children_settings(sandboxes(parent))
    async with transaction(pool) as conn:
        await service.import_once(
            conn, drafts_from_settings(first), cipher=first.card_key_cipher(), now=clock.now()
        )
    before = await channels(pool, first)
    shutil.rmtree(tmp_path / "sandbox")
    regenerated = cli_demo.children_settings(sandboxes(parent))
    live = regenerated.model_copy(update={"demo": False})
    assert await resync_channels(database_url, live) == []
    assert await channels(pool, first) == before
    # The same settings in demo mode do resync (the refusal above is the mode's).
    assert await resync_channels(database_url, regenerated) == ["wechatpay", "alipay", "epay_v2"]
