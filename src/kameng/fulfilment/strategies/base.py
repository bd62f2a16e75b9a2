"""What a fulfilment strategy is. Read this before adding one (top-up, courier, manual…).

One strategy per product kind (``ProductKind``; ``registry.STRATEGIES`` maps
each kind to its strategy, and a test fails when a kind has none). A strategy
turns a paid order into goods (``fulfil``) and hands those goods to the
order's owner (``goods_of``); the orders domain never knows what goods are.

The rules a strategy must keep:

- **No network I/O while an order row is locked.** ``fulfil`` runs inside the
  transaction that holds the order's row lock (the notify that paid it, or the
  restock job). A strategy that must call out (an upstream supplier, a top-up
  API) does not call from ``fulfil``: it defers a job in the same transaction
  (``kameng.db.jobs.defer`` on ``conn``), so the job exists if and only if the
  payment committed, and that job makes the call with no lock held, then
  re-reads the order under lock and records the outcome.
- Never commit or roll back: the caller owns the transaction.
- Change the order's status only through ``orders.states.transition`` (it
  appends the timeline event); never mark an order delivered without goods.
  Short of goods, move it to ``awaiting_stock`` and say so on the timeline.
- Be idempotent: ``fulfil`` may run again on an order already served in part;
  deliver only what is still owed (``quantity - delivered_quantity``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from kameng.db.connection import Conn
from kameng.kit.crypto import CardKeyCipher
from kameng.models.vocabulary import ProductKind
from kameng.orders.repository import OrderRow
from kameng.orders.service import CardKeyItem


class FulfilmentStrategy(Protocol):
    kind: ProductKind

    async def fulfil(self, conn: Conn, order: OrderRow, *, now: datetime) -> bool:
        """Deliver what can be delivered now and move the order on; caller holds the row lock.

        Returns True when the order is now fully delivered."""
        ...

    async def goods_of(
        self, conn: Conn, order: OrderRow, *, cipher: CardKeyCipher
    ) -> list[CardKeyItem]:
        """What the order delivered so far, readable (``cipher`` opens what is stored sealed).

        Only ever called for the order's owner (``orders.service.may_see_goods``)."""
        ...
