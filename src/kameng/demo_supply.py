"""Demo products of the supply engine (``make run``): one per supplier behaviour.

Two suppliers on the supplier sandbox: ``SUP-A`` (merchant demo-a, tried
first) and ``SUP-B`` (demo-b). Each product's code at SUP-A names the
behaviour the sandbox plays for it (``kameng.sandbox.supplier.DEMO_BEHAVIOURS``);
at SUP-B every product succeeds, except DEMO-TOPUP-ALLFAIL, which fails there too.
Loaded once, when the shop has no product named DEMO-TOPUP yet.
"""

from __future__ import annotations

from typing import Any

from kameng.catalog import repository as catalog
from kameng.config import Settings
from kameng.db.connection import make_pool, transaction
from kameng.fulfilment.supply import admin
from kameng.fulfilment.supply.setup import supply_config
from kameng.kit import clock
from kameng.models.vocabulary import ProductKind

PHONE = {
    "name": "phone",
    "label_zh": "手机号",
    "label_en": "Phone number",
    "pattern": "1[3-9][0-9]{9}",
    "example": "13800138000",
}
GAME = [
    {
        "name": "account",
        "label_zh": "游戏账号",
        "label_en": "Game account",
        "pattern": "[A-Za-z0-9_]{4,20}",
        "example": "player_001",
    },
    {
        "name": "server",
        "label_zh": "区服",
        "label_en": "Server",
        "pattern": "[0-9]{1,3}区",
        "example": "1区",
    },
]

# (our SKU, name, kind, price, SUP-A code, SUP-B code, buyer fields)
DEMO_SUPPLY: tuple[tuple[str, str, ProductKind, int, str, str, list[dict[str, Any]]], ...] = (
    (
        "DEMO-TOPUP",
        "话费直充 10 元 (演示：成功)",
        ProductKind.TOPUP,
        1000,
        "phone-ok",
        "b-ok",
        [PHONE],
    ),
    (
        "DEMO-TOPUP-SLOW",
        "话费直充 (演示：20 秒后成功)",
        ProductKind.TOPUP,
        1000,
        "phone-slow",
        "b-ok",
        [PHONE],
    ),
    (
        "DEMO-TOPUP-FAILOVER",
        "话费直充 (演示：A 失败切换 B)",
        ProductKind.TOPUP,
        1000,
        "phone-fail",
        "b-ok",
        [PHONE],
    ),
    (
        "DEMO-TOPUP-MAINT",
        "话费直充 (演示：A 维护中)",
        ProductKind.TOPUP,
        1000,
        "phone-maint",
        "b-ok",
        [PHONE],
    ),
    (
        "DEMO-TOPUP-LOST",
        "话费直充 (演示：回调丢失，查单找到)",
        ProductKind.TOPUP,
        1000,
        "phone-lost",
        "b-ok",
        [PHONE],
    ),
    (
        "DEMO-TOPUP-TIMEOUT",
        "话费直充 (演示：A 超时)",
        ProductKind.TOPUP,
        1000,
        "phone-timeout",
        "b-ok",
        [PHONE],
    ),
    (
        "DEMO-TOPUP-GARBAGE",
        "话费直充 (演示：A 返回乱码)",
        ProductKind.TOPUP,
        1000,
        "phone-garbage",
        "b-ok",
        [PHONE],
    ),
    (
        "DEMO-TOPUP-BADSIGN",
        "话费直充 (演示：回调签名错误)",
        ProductKind.TOPUP,
        1000,
        "phone-badsign",
        "b-ok",
        [PHONE],
    ),
    (
        "DEMO-TOPUP-NOBAL",
        "话费直充 (演示：A 余额不足)",
        ProductKind.TOPUP,
        1000,
        "phone-nobal",
        "b-ok",
        [PHONE],
    ),
    (
        "DEMO-TOPUP-PRICE",
        "话费直充 (演示：A 涨价)",
        ProductKind.TOPUP,
        1000,
        "phone-price",
        "b-ok",
        [PHONE],
    ),
    (
        "DEMO-TOPUP-LONG",
        "话费直充 (演示：长时间处理中)",
        ProductKind.TOPUP,
        1000,
        "phone-long",
        "b-ok",
        [PHONE],
    ),
    (
        "DEMO-TOPUP-ALLFAIL",
        "话费直充 (演示：全部失败，退款)",
        ProductKind.TOPUP,
        1000,
        "phone-fail",
        "b-fail",
        [PHONE],
    ),
    ("DEMO-GAME", "游戏直充 (演示：账号+区服)", ProductKind.TOPUP, 3000, "game-ok", "b-ok", GAME),
    (
        "DEMO-UPCARD",
        "上游卡密 (演示：代发卡)",
        ProductKind.UPSTREAM_CARD,
        2000,
        "card-ok",
        "b-ok",
        [],
    ),
    ("DEMO-MANUAL", "人工代充 (演示：人工处理)", ProductKind.MANUAL, 5000, "", "", []),
)


async def load_supply_demo(
    database_url: str, settings: Settings, sandbox_url: str, merchants: dict[str, str]
) -> bool:
    """Insert the demo suppliers and products into the demo shop (DEMO-CARD-10
    exists) unless DEMO-TOPUP exists already."""
    cfg = supply_config(settings)
    pool = make_pool(database_url, size=1)
    await pool.open()
    try:
        async with transaction(pool) as conn:
            if await catalog.active_by_sku(conn, "DEMO-TOPUP") is not None:
                return False
            # Only into the demo shop (its card products loaded by kameng.demo).
            if await catalog.active_by_sku(conn, "DEMO-CARD-10") is None:
                return False
            now = clock.now()
            for code, merchant, priority in (("SUP-A", "demo-a", 10), ("SUP-B", "demo-b", 20)):
                await admin.add(
                    conn, cfg, code=code, name=f"供应商{code[-1]}", base_url=sandbox_url,
                    merchant_id=merchant, secret=merchants[merchant], priority=priority, now=now,
                )  # fmt: skip
            for sku, name, kind, price, code_a, code_b, fields in DEMO_SUPPLY:
                product = await catalog.insert_product(
                    conn, sku=sku, name=name, kind=kind, price_cents=price, max_quantity=1,
                    description="演示商品：供应商为沙箱，不会产生真实充值。", now=now,
                )  # fmt: skip
                await catalog.set_supply_terms(
                    conn, product.id, buyer_fields=fields, sla_seconds=120,
                    refund_after_seconds=600,
                )  # fmt: skip
                if code_a:
                    await admin.link(conn, code="SUP-A", sku=sku, supplier_sku=code_a,
                                     cost_cents=price * 95 // 100, priority=10)  # fmt: skip
                    await admin.link(conn, code="SUP-B", sku=sku, supplier_sku=code_b,
                                     cost_cents=price * 97 // 100, priority=20)  # fmt: skip
            return True
    finally:
        await pool.close()
