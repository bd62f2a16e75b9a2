"""What jobs share within one worker process: the pool and the gateways."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn
from kameng.payments.gateways.registry import GatewayRegistry

_pool: AsyncConnectionPool[Conn] | None = None
_gateways: GatewayRegistry | None = None


def set_pool(pool: AsyncConnectionPool[Conn]) -> None:
    global _pool
    _pool = pool


def pool() -> AsyncConnectionPool[Conn]:
    if _pool is None:
        raise RuntimeError("worker pool not configured (open_app sets it)")
    return _pool


def set_gateways(registry: GatewayRegistry) -> None:
    global _gateways
    _gateways = registry


def gateways() -> GatewayRegistry:
    """Built from the settings on first use (tests install their own)."""
    global _gateways
    if _gateways is None:
        from kameng.config import get_settings
        from kameng.payments.gateways.registry import from_settings

        _gateways = from_settings(get_settings())
    return _gateways
