"""What every request handler needs, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn
from kameng.kit.crypto import CardKeyCipher
from kameng.kit.passwords import QueryPasswords
from kameng.kit.snapshot import Snapshot
from kameng.kit.throttle import AttemptThrottle
from kameng.limits.service import Limiter
from kameng.notices.repository import NoticeRow
from kameng.orders.live import TimelineHub
from kameng.orders.service import GoodsSource
from kameng.payments.gateways.registry import GatewayRegistry
from kameng.web.catalogue import Catalogue


@dataclass
class Runtime:
    settings: Settings
    pool: AsyncConnectionPool[Conn]
    gateways: GatewayRegistry
    cipher: CardKeyCipher
    goods: GoodsSource  # what an order delivered, for its owner
    token_secret: bytes
    catalogue: Snapshot[Catalogue]  # the product list, re-read at most once a second
    passwords: QueryPasswords
    limiter: Limiter  # rate limits in PostgreSQL, shared by every web process
    # Wrong query passwords per order number: 10 per 15 minutes (in PostgreSQL).
    password_throttle: AttemptThrottle
    # One LISTEN connection per process feeding every open live timeline (SSE).
    timelines: TimelineHub
    # Notices running or to come, re-read at most once a second (kameng.notices).
    notices: Snapshot[list[NoticeRow]]
    # Secrets of KAMENG_OLD_SECRET_KEYS: tokens given out before a change still open.
    old_token_secrets: list[bytes] = field(default_factory=list)
