from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from kameng.orders.repository import OrderRow


class FulfilmentStrategy(Protocol):
    kind: str

    async def fulfil(self, session: AsyncSession, order: OrderRow, *, now: datetime) -> None:
        """Deliver what can be delivered now and move the order on; caller holds the row lock."""
