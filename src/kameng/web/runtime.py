"""What every request handler needs, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kameng.config import Settings
from kameng.kit.crypto import CardKeyCipher
from kameng.payments.gateways.registry import GatewayRegistry


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    gateways: GatewayRegistry
    cipher: CardKeyCipher
    token_secret: bytes
