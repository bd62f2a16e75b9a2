"""Managing payment channels: add, change, enable, disable, list, import.

Fail closed: a channel is enabled only with every required setting filled in;
secrets are sealed with the shop's cipher, bound to the channel's name, and
never returned by ``summaries``. Services take the connection and never commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from kameng.db.connection import Conn
from kameng.kit.crypto import CardKeyCipher, CardKeyUnreadable
from kameng.models.vocabulary import ChannelKind
from kameng.payments.channels import kinds, repository
from kameng.payments.channels.errors import (
    ChannelExists,
    ChannelIncomplete,
    ChannelKindUnknown,
    ChannelNameInvalid,
    ChannelNotFound,
    ChannelSettingUnknown,
    ChannelUnreadable,
    ChannelUrlInsecure,
)
from kameng.payments.channels.repository import ChannelRow

_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# Product id 0 never exists: channel secrets never share associated data with a
# card key; the prefix keeps them apart from supplier secrets.
_SECRET_ROW = 0


@dataclass(frozen=True, slots=True)
class ChannelDraft:
    name: str
    kind: ChannelKind
    values: dict[str, str] = field(default_factory=dict)  # settings and secrets together
    enabled: bool = True
    label_zh: str = ""
    label_en: str = ""
    sort_order: int = 100


@dataclass(frozen=True, slots=True)
class ChannelSummary:
    """What ``kameng channel list`` shows: never a secret's value."""

    name: str
    kind: ChannelKind
    enabled: bool
    label_zh: str
    label_en: str
    sort_order: int
    settings: dict[str, str]  # the plain ones (URLs, ids, public keys)
    secrets_set: list[str]  # names of the secrets that have a value
    missing: list[str]  # required and empty


def kind_named(text: str) -> ChannelKind:
    try:
        return ChannelKind(text)
    except ValueError:
        raise ChannelKindUnknown(
            kind=text[:40], kinds=", ".join(k.value for k in ChannelKind)
        ) from None


def _secret_aad(name: str) -> bytes:
    return b"payment-channel-secrets\x00" + name.encode()


def seal(cipher: CardKeyCipher, name: str, secrets: Mapping[str, str]) -> bytes | None:
    kept = {k: v for k, v in secrets.items() if v}
    if not kept:
        return None
    plain = json.dumps(kept, sort_keys=True)
    return cipher.seal(plain, "", product_id=_SECRET_ROW, fingerprint=_secret_aad(name))


def values_of(row: ChannelRow, cipher: CardKeyCipher) -> dict[str, str]:
    """Plain settings and opened secrets together (for building the adapter)."""
    values = {str(k): str(v) for k, v in row.settings.items()}
    if row.secrets_sealed is not None:
        try:
            plain, _ = cipher.open(
                row.secrets_sealed, product_id=_SECRET_ROW, fingerprint=_secret_aad(row.name)
            )
        except CardKeyUnreadable:
            raise ChannelUnreadable(name=row.name) from None
        values |= {str(k): str(v) for k, v in json.loads(plain).items()}
    return values


def _check_values(kind: ChannelKind, values: Mapping[str, str]) -> None:
    for key, value in values.items():
        spec = kinds.spec_of(kind, key)
        if spec is None:
            raise ChannelSettingUnknown(
                kind=kind.value, key=key[:40], keys=", ".join(s.key for s in kinds.SPECS[kind])
            )
        if spec.url and value and not _acceptable_url(value):
            raise ChannelUrlInsecure(key=key, url=value[:200])


def _acceptable_url(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme == "https" and parts.hostname) or _local_http(url)


def _local_http(url: str) -> bool:
    """A plain-http URL on this machine: where `kameng run` serves its sandboxes."""
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK


def _with_defaults(kind: ChannelKind, values: Mapping[str, str]) -> dict[str, str]:
    complete = {s.key: s.default for s in kinds.SPECS[kind] if s.default}
    return complete | {k: v for k, v in values.items()}


def _split(kind: ChannelKind, values: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    plain: dict[str, str] = {}
    secret: dict[str, str] = {}
    for key, value in values.items():
        spec = kinds.spec_of(kind, key)
        if spec is not None:
            (secret if spec.secret else plain)[key] = value
    return plain, secret


async def add(
    conn: Conn,
    draft: ChannelDraft,
    *,
    cipher: CardKeyCipher,
    now: datetime,
    check_urls: bool = True,
) -> None:
    """Add a channel; enabled only if complete (otherwise a clear error, nothing written)."""
    if not _NAME.match(draft.name):
        raise ChannelNameInvalid(name=draft.name[:40])
    if check_urls:
        _check_values(draft.kind, draft.values)
    values = _with_defaults(draft.kind, draft.values)
    gaps = kinds.missing(draft.kind, values)
    if draft.enabled and gaps:
        raise ChannelIncomplete(name=draft.name, missing=", ".join(gaps))
    plain, secret = _split(draft.kind, values)
    labels = kinds.DEFAULT_LABELS[draft.kind]
    inserted = await repository.insert(
        conn,
        name=draft.name,
        kind=draft.kind,
        enabled=draft.enabled,
        label_zh=draft.label_zh or labels[0],
        label_en=draft.label_en or labels[1],
        sort_order=draft.sort_order,
        settings=plain,
        secrets_sealed=seal(cipher, draft.name, secret),
        now=now,
    )
    if not inserted:
        raise ChannelExists(name=draft.name)


async def change(
    conn: Conn,
    name: str,
    *,
    cipher: CardKeyCipher,
    now: datetime,
    values: Mapping[str, str] | None = None,
    enabled: bool | None = None,
    label_zh: str | None = None,
    label_en: str | None = None,
    sort_order: int | None = None,
) -> None:
    """Change settings (an empty value clears one), labels, order, or the switch.

    An enabled channel stays complete: a change that would leave a required
    setting empty is refused, as is enabling an incomplete channel."""
    row = await repository.lock(conn, name)
    if row is None:
        raise ChannelNotFound(name=name[:40])
    changes = dict(values or {})
    _check_values(row.kind, changes)
    merged = values_of(row, cipher) | changes
    merged = {k: v for k, v in merged.items() if v}
    now_enabled = row.enabled if enabled is None else enabled
    gaps = kinds.missing(row.kind, merged)
    if now_enabled and gaps:
        raise ChannelIncomplete(name=name, missing=", ".join(gaps))
    plain, secret = _split(row.kind, merged)
    await repository.update(
        conn,
        name,
        enabled=now_enabled,
        label_zh=row.label_zh if label_zh is None else label_zh,
        label_en=row.label_en if label_en is None else label_en,
        sort_order=row.sort_order if sort_order is None else sort_order,
        settings=plain,
        secrets_sealed=seal(cipher, name, secret),
        now=now,
    )


async def summaries(conn: Conn, *, cipher: CardKeyCipher) -> list[ChannelSummary]:
    _, rows = await repository.load_all(conn)
    found = []
    for row in rows:
        try:
            values = values_of(row, cipher)
        except ChannelUnreadable:
            values = {str(k): str(v) for k, v in row.settings.items()}
        plain, secret = _split(row.kind, values)
        found.append(
            ChannelSummary(
                name=row.name,
                kind=row.kind,
                enabled=row.enabled,
                label_zh=row.label_zh,
                label_en=row.label_en,
                sort_order=row.sort_order,
                settings=plain,
                secrets_set=sorted(secret),
                missing=kinds.missing(row.kind, values),
            )
        )
    return found


async def import_once(
    conn: Conn, drafts: list[ChannelDraft], *, cipher: CardKeyCipher, now: datetime
) -> list[str]:
    """First run: with no channel in the database, add these (from the
    environment's gateway settings). Returns the names added."""
    if not drafts or await repository.count(conn) > 0:
        return []
    added = []
    for draft in drafts:
        try:
            await add(conn, draft, cipher=cipher, now=now, check_urls=False)
        except ChannelExists:  # another process imported it at the same moment
            continue
        added.append(draft.name)
    return added


async def resync_sandbox(
    conn: Conn, drafts: list[ChannelDraft], *, cipher: CardKeyCipher, now: datetime
) -> list[str]:
    """Demo mode only (``kameng run``): give the channels that point at the local
    sandboxes the keys those sandboxes hold now (regenerated when ``var/sandbox``
    was deleted but the database kept). A draft is followed only when it points
    at a sandbox on this machine, and only by the channel of its name and kind
    whose URL is that very sandbox's: a channel the operator pointed elsewhere
    (a live gateway) is never touched, nor any other setting. Returns the names
    changed; a channel already in line is not written (no version bump)."""
    changed = []
    for draft in drafts:
        url_key = kinds.url_setting(draft.kind)
        url = draft.values.get(url_key, "")
        if not _local_http(url):
            continue
        row = await repository.lock(conn, draft.name)
        if row is None or row.kind != draft.kind or row.settings.get(url_key) != url:
            continue
        try:
            current = values_of(row, cipher)
        except ChannelUnreadable:  # sealed under another secret: left to the operator
            continue
        issued = {
            k: draft.values[k]
            for k in kinds.SANDBOX_ISSUED[draft.kind]
            if draft.values.get(k) and draft.values[k] != current.get(k)
        }
        if issued:
            await change(conn, draft.name, cipher=cipher, now=now, values=issued)
            changed.append(draft.name)
    return changed
