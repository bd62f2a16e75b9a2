from __future__ import annotations

from datetime import datetime
from typing import Protocol

from kameng.db.connection import Conn
from kameng.models.vocabulary import ProductKind
from kameng.orders.repository import OrderRow


class FulfilmentStrategy(Protocol):
    kind: ProductKind

    async def fulfil(self, conn: Conn, order: OrderRow, *, now: datetime) -> bool:
        """Deliver what can be delivered now and move the order on; caller holds the row lock.

        Returns True when the order is now fully delivered."""
