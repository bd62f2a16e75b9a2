"""Publishing, listing and ending notices, and which ones touch an order.

Hot paths (every order page, lookup and API answer) read the notices through a
per-process snapshot of those not ended yet (``kameng.kit.snapshot``, at most a
second old) and match them in memory; the only query an order may add is the
codes of its suppliers, and only while a supplier-scoped notice is active.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kameng.db.connection import Conn
from kameng.models.vocabulary import NoticeScope
from kameng.notices import repository
from kameng.notices.errors import (
    NoticeNotFound,
    NoticeTargetInvalid,
    NoticeTextInvalid,
    NoticeWindowInvalid,
)
from kameng.notices.repository import NoticeRow

MAX_TEXT = 500
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True, slots=True)
class OrderReach:
    """What of an order a notice's scope can name."""

    product_sku: str
    channel: str  # the payment channel (gateway) the order is paid through
    suppliers: frozenset[str] = frozenset()  # codes of the suppliers its attempts went to


def active(notices: Sequence[NoticeRow], now: datetime) -> list[NoticeRow]:
    return [n for n in notices if n.active_at(now)]


def touches(notice: NoticeRow, reach: OrderReach) -> bool:
    if notice.scope == NoticeScope.ALL:
        return True
    if notice.scope == NoticeScope.PRODUCT:
        return notice.target == reach.product_sku
    if notice.scope == NoticeScope.CHANNEL:
        return notice.target == reach.channel
    return notice.target in reach.suppliers


async def touching_order(
    conn: Conn,
    notices: Sequence[NoticeRow],
    *,
    order_id: int,
    product_sku: str,
    channel: str,
    now: datetime,
) -> list[NoticeRow]:
    """The active notices among ``notices`` that touch this order."""
    running = active(notices, now)
    if not running:
        return []
    suppliers: frozenset[str] = frozenset()
    if any(n.scope == NoticeScope.SUPPLIER for n in running):
        suppliers = await repository.suppliers_of_order(conn, order_id)
    reach = OrderReach(product_sku=product_sku, channel=channel, suppliers=suppliers)
    return [n for n in running if touches(n, reach)]


def _clean(text: str) -> str:
    text = " ".join(text.split())
    if not text or len(text) > MAX_TEXT or not text.isprintable():
        raise NoticeTextInvalid(max=MAX_TEXT)
    return text


async def publish(
    conn: Conn,
    *,
    text_zh: str,
    text_en: str,
    scope: NoticeScope,
    target: str | None,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> NoticeRow:
    """A new notice; its scope's target must exist (product SKU, supplier code) or be
    a well-formed channel name."""
    zh, en = _clean(text_zh), _clean(text_en)
    if ends_at <= starts_at or ends_at <= now:
        raise NoticeWindowInvalid()
    target = (target or "").strip() or None
    if scope == NoticeScope.ALL:
        if target is not None:
            raise NoticeTargetInvalid(target=target)
    elif target is None or not (
        (scope == NoticeScope.PRODUCT and await repository.product_exists(conn, target))
        or (scope == NoticeScope.SUPPLIER and await repository.supplier_exists(conn, target))
        or (scope == NoticeScope.CHANNEL and _CHANNEL_NAME.match(target))
    ):
        raise NoticeTargetInvalid(target=target or "")
    return await repository.insert(
        conn,
        text_zh=zh,
        text_en=en,
        scope=scope,
        target=target,
        starts_at=starts_at,
        ends_at=ends_at,
        now=now,
    )


async def not_ended(conn: Conn, now: datetime) -> list[NoticeRow]:
    """Running or still to come: what a web process keeps in its snapshot."""
    return await repository.not_ended(conn, now)


async def listing(conn: Conn, now: datetime, *, ended: bool = False) -> list[NoticeRow]:
    """For the operator: the notices not ended yet, or (``ended``) the latest 100 of all."""
    if ended:
        return await repository.every(conn, limit=100)
    return await repository.not_ended(conn, now)


async def end(conn: Conn, notice_id: int, now: datetime) -> NoticeRow:
    ended = await repository.end(conn, notice_id, now)
    if ended is None:
        raise NoticeNotFound(id=notice_id)
    return ended
