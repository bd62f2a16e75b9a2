"""Goods bought from an upstream supplier: direct top-ups (直充) and upstream cards
(代发卡). ``fulfil`` runs under the payment's row lock, so it only hands the
order to the supply engine (status ``fulfilling``, a job deferred in the same
transaction); the engine's job talks to the supplier with no lock held."""

from __future__ import annotations

from datetime import datetime

from kameng.cardkeys.repository import secrets_of_order
from kameng.db.connection import Conn
from kameng.fulfilment.supply import engine
from kameng.fulfilment.supply import repository as supply
from kameng.kit.crypto import CardKeyCipher
from kameng.models.vocabulary import OrderStatus, ProductKind
from kameng.orders.repository import OrderRow
from kameng.orders.service import CardKeyItem, GoodsKind


class _SuppliedStrategy:
    """Goods an upstream supplier provides: paying starts the supply engine,
    which delivers (or refunds) later, never within the payment."""

    async def fulfil(self, conn: Conn, order: OrderRow, *, now: datetime) -> bool:
        if order.status == OrderStatus.PAID:
            await engine.start(conn, order, now=now)
        return False


class TopupStrategy(_SuppliedStrategy):
    kind = ProductKind.TOPUP

    async def goods_of(
        self, conn: Conn, order: OrderRow, *, cipher: CardKeyCipher
    ) -> list[CardKeyItem]:
        """The supplier's receipt (voucher) for the top-up, once done."""
        result = await supply.result_of_order(conn, order.id)
        voucher = (result or {}).get("voucher")
        if not voucher:
            return []
        return [CardKeyItem(number=str(voucher), password="", kind=GoodsKind.TOPUP_RECEIPT)]


class UpstreamCardStrategy(_SuppliedStrategy):
    kind = ProductKind.UPSTREAM_CARD

    async def goods_of(
        self, conn: Conn, order: OrderRow, *, cipher: CardKeyCipher
    ) -> list[CardKeyItem]:
        """Stored sealed in card_keys like own keys, opened the same way."""
        return [
            CardKeyItem(
                *cipher.open(key.secret, product_id=key.product_id, fingerprint=key.fingerprint)
            )
            for key in await secrets_of_order(conn, order.id)
        ]
