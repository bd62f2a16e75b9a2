"""What every request handler needs, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn
from kameng.kit.crypto import CardKeyCipher
from kameng.payments.gateways.registry import GatewayRegistry


@dataclass
class Runtime:
    settings: Settings
    pool: AsyncConnectionPool[Conn]
    gateways: GatewayRegistry
    cipher: CardKeyCipher
    token_secret: bytes
