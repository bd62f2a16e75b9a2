"""Demo data for ``make run``: three products, two with card keys, one sold out;
the demo channels kept in line with the sandboxes' keys."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

import psycopg
from sqlalchemy import text

from kameng.config import Settings
from kameng.db.engine import CONNECT_OPTIONS, libpq_url, make_engine
from kameng.kit import clock
from kameng.models.vocabulary import ProductKind
from kameng.payments.channels import service as channels
from kameng.payments.channels.env_import import drafts_from_settings

# Any constant works; it only has to be the same for every process loading demo data.
_DEMO_LOCK = 0x6B616D656E67


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    price_cents: int
    keys: int
    key_prefix: str
    description: str


DEMO_PRODUCTS = (
    DemoProduct(
        "DEMO-CARD-10",
        "游戏点卡 10 元 (演示)",
        1000,
        100,
        "DEMO10",
        "演示商品：付款使用沙箱易支付，不会产生真实扣款。",
    ),
    DemoProduct(
        "DEMO-CARD-50",
        "游戏点卡 50 元 (演示)",
        5000,
        20,
        "DEMO50",
        "演示商品：付款使用沙箱易支付，不会产生真实扣款。",
    ),
    DemoProduct(
        "DEMO-EMPTY",
        "礼品卡 (演示·缺货)",
        2000,
        0,
        "DEMOGIFT",
        "演示缺货流程：付款后订单进入“等待补货”，导入卡密后自动发货。",
    ),
)

_ALPHABET = string.ascii_uppercase + string.digits


def _password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


async def load_demo(database_url: str, settings: Settings) -> bool:
    """Insert the demo products and keys unless the shop already has products.

    Returns True when it loaded them, False when products already existed (so
    a shop with real products is never touched). Safe to run concurrently.
    """
    cipher = settings.card_key_cipher()
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            # Two `kameng run` at once must not both see an empty shop.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _DEMO_LOCK})
            if (await conn.execute(text("SELECT EXISTS (SELECT 1 FROM products)"))).scalar_one():
                return False
            now = clock.now()
            for product in DEMO_PRODUCTS:
                product_id = (
                    await conn.execute(
                        text(
                            "INSERT INTO products (sku, name, kind, price_cents, max_quantity, "
                            "description, active, created_at) VALUES "
                            "(:sku, :name, :kind, :price, 10, :description, true, :now) "
                            "RETURNING id"
                        ),
                        {
                            "sku": product.sku,
                            "name": product.name,
                            "kind": ProductKind.CARD_KEY.value,
                            "price": product.price_cents,
                            "description": product.description,
                            "now": now,
                        },
                    )
                ).scalar_one()
                if not product.keys:
                    continue
                numbers = [f"{product.key_prefix}-{i:04d}" for i in range(1, product.keys + 1)]
                await conn.execute(
                    text(
                        "INSERT INTO card_keys (product_id, fingerprint, secret, created_at) "
                        "VALUES (:product_id, :fingerprint, :secret, :now)"
                    ),
                    [
                        {
                            "product_id": product_id,
                            "fingerprint": fingerprint,
                            "secret": cipher.seal(
                                number, _password(), product_id=product_id, fingerprint=fingerprint
                            ),
                            "now": now,
                        }
                        for number in numbers
                        for fingerprint in [cipher.fingerprint(number)]
                    ],
                )
            return True
    finally:
        await engine.dispose()


async def resync_channels(database_url: str, settings: Settings) -> list[str]:
    """Demo mode only: the channels pointing at this machine's sandboxes get the
    keys the sandboxes hold now (``settings`` as the shop's processes get them
    from ``kameng run``). Channels are imported from the environment only into
    an empty table, so without this a kept database would hold the keys of
    sandboxes generated anew (``var/sandbox`` deleted, ``var/pg`` kept) and
    every demo payment would fail its signature check. The names changed."""
    if not settings.demo:
        return []
    drafts = drafts_from_settings(settings)
    async with (
        await psycopg.AsyncConnection.connect(
            libpq_url(database_url), options=CONNECT_OPTIONS
        ) as conn,
        conn.transaction(),
    ):
        return await channels.resync_sandbox(
            conn, drafts, cipher=settings.card_key_cipher(), now=clock.now()
        )
