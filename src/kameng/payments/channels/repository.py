"""All payment-channel SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from kameng.db.connection import Conn, execute, fetch_all_as, fetch_one, fetch_one_as
from kameng.db.rows import row_of
from kameng.models.vocabulary import ChannelKind


@row_of("payment_channels", version="payment_channels_version.version")
@dataclass(frozen=True, slots=True)
class ChannelRow:
    id: int
    name: str
    kind: ChannelKind
    enabled: bool
    label_zh: str
    label_en: str
    sort_order: int
    settings: dict[str, Any]
    secrets_sealed: bytes | None
    created_at: datetime
    updated_at: datetime
    version: int  # of the whole table, read in the same statement


_COLUMNS = (
    "c.id, c.name, c.kind, c.enabled, c.label_zh, c.label_en, c.sort_order, c.settings, "
    "c.secrets_sealed, c.created_at, c.updated_at"
)
# The trigger of migration 0017 NOTIFYs this channel on every change (after commit).
CHANGES_CHANNEL = "payment_channels"
_VERSION = "coalesce((SELECT version FROM payment_channels_version WHERE id = 1), 0)"


def enabled_count_at(url: str) -> int | None:
    """Enabled channels in the database at ``url`` (the start-up configuration
    check, before any pool exists); None when it cannot be asked (unreachable,
    or not migrated yet)."""
    try:
        with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM payment_channels WHERE enabled").fetchone()
    except psycopg.Error:
        return None
    return None if row is None else int(row[0])


async def version(conn: Conn) -> int:
    """One integer that changes with every change to any channel."""
    row = await fetch_one(conn, f"SELECT {_VERSION}")
    return int(row[0])


async def load_all(conn: Conn) -> tuple[int, list[ChannelRow]]:
    """Every channel and the version they are, in one statement (one snapshot)."""
    rows = await fetch_all_as(
        conn,
        ChannelRow,
        f"SELECT {_COLUMNS}, {_VERSION} AS version FROM payment_channels c "
        "ORDER BY c.sort_order, c.name",
    )
    if rows:
        return rows[0].version, rows
    return await version(conn), []


async def get(conn: Conn, name: str) -> ChannelRow | None:
    return await fetch_one_as(
        conn,
        ChannelRow,
        f"SELECT {_COLUMNS}, {_VERSION} AS version FROM payment_channels c WHERE c.name = %(n)s",
        {"n": name},
    )


async def insert(
    conn: Conn,
    *,
    name: str,
    kind: ChannelKind,
    enabled: bool,
    label_zh: str,
    label_en: str,
    sort_order: int,
    settings: dict[str, str],
    secrets_sealed: bytes | None,
    now: datetime,
) -> bool:
    """False when the name is taken (nothing changed)."""
    row = await fetch_one(
        conn,
        "INSERT INTO payment_channels (name, kind, enabled, label_zh, label_en, sort_order, "
        "settings, secrets_sealed, created_at, updated_at) VALUES (%(name)s, %(kind)s, "
        "%(enabled)s, %(zh)s, %(en)s, %(sort)s, %(settings)s, %(sealed)s, %(now)s, %(now)s) "
        "ON CONFLICT (name) DO NOTHING RETURNING id",
        {
            "name": name,
            "kind": kind.value,
            "enabled": enabled,
            "zh": label_zh,
            "en": label_en,
            "sort": sort_order,
            "settings": Jsonb(settings),
            "sealed": secrets_sealed,
            "now": now,
        },
    )
    return row is not None


async def update(
    conn: Conn,
    name: str,
    *,
    enabled: bool,
    label_zh: str,
    label_en: str,
    sort_order: int,
    settings: dict[str, str],
    secrets_sealed: bytes | None,
    now: datetime,
) -> None:
    await execute(
        conn,
        "UPDATE payment_channels SET enabled = %(enabled)s, label_zh = %(zh)s, "
        "label_en = %(en)s, sort_order = %(sort)s, settings = %(settings)s, "
        "secrets_sealed = %(sealed)s, updated_at = %(now)s WHERE name = %(name)s",
        {
            "name": name,
            "enabled": enabled,
            "zh": label_zh,
            "en": label_en,
            "sort": sort_order,
            "settings": Jsonb(settings),
            "sealed": secrets_sealed,
            "now": now,
        },
    )


async def lock(conn: Conn, name: str) -> ChannelRow | None:
    """The channel, locked until the transaction ends (one edit at a time)."""
    return await fetch_one_as(
        conn,
        ChannelRow,
        f"SELECT {_COLUMNS}, {_VERSION} AS version FROM payment_channels c "
        "WHERE c.name = %(n)s FOR UPDATE OF c",
        {"n": name},
    )


async def count(conn: Conn) -> int:
    row = await fetch_one(conn, "SELECT count(*) FROM payment_channels")
    return int(row[0])
