"""Operators' supplier management (``kameng supplier …``); the console comes later."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from kameng.catalog import repository as catalog
from kameng.catalog.errors import ProductNotFound
from kameng.db.connection import Conn
from kameng.fulfilment.supply import repository as repo
from kameng.fulfilment.supply.config import SupplyConfig
from kameng.fulfilment.supply.repository import SupplierRow
from kameng.kit.errors import DomainError, InvalidInput, NotFound
from kameng.kit.i18n import N_

_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")


class SupplierNotFound(NotFound):
    code = "supplier_not_found"
    message = N_("No supplier %(code)s")


class SupplierExists(DomainError):
    status = 409
    code = "supplier_exists"
    message = N_("A supplier %(code)s exists already")


class SupplierCodeInvalid(InvalidInput):
    code = "supplier_code_invalid"
    message = N_("A supplier code is 1-32 letters, digits, - or _: %(code)s")


class SupplierUrlInvalid(InvalidInput):
    code = "supplier_url_invalid"
    message = N_("The supplier's URL must start with http:// or https://: %(url)s")


@dataclass(frozen=True, slots=True)
class SupplierView:
    supplier: SupplierRow
    products: list[tuple[str, str, int, int]]  # our SKU, theirs, cost cents, priority

    @property
    def success_rate(self) -> float | None:
        calls = self.supplier.successes + self.supplier.failures
        return None if calls == 0 else self.supplier.successes / calls


async def add(
    conn: Conn,
    cfg: SupplyConfig,
    *,
    code: str,
    name: str,
    base_url: str,
    merchant_id: str,
    secret: str,
    priority: int,
    now: datetime,
) -> int:
    if not _CODE.fullmatch(code):
        raise SupplierCodeInvalid(code=code)
    if not base_url.startswith(("http://", "https://")):
        raise SupplierUrlInvalid(url=base_url)
    if await repo.supplier_by_code(conn, code) is not None:
        raise SupplierExists(code=code)
    return await repo.insert_supplier(
        conn,
        code=code,
        name=name or code,
        base_url=base_url,
        merchant_id=merchant_id,
        secret_sealed=cfg.seal_secret(code, secret),
        priority=priority,
        now=now,
    )


async def link(
    conn: Conn, *, code: str, sku: str, supplier_sku: str, cost_cents: int, priority: int
) -> None:
    supplier = await _supplier(conn, code)
    product = await catalog.active_by_sku(conn, sku)
    if product is None:
        raise ProductNotFound(sku=sku)
    await repo.link_product(
        conn,
        supplier_id=supplier.id,
        product_id=product.id,
        supplier_sku=supplier_sku,
        cost_cents=cost_cents,
        priority=priority,
    )


async def update(
    conn: Conn,
    cfg: SupplyConfig,
    *,
    code: str,
    now: datetime,
    name: str | None = None,
    base_url: str | None = None,
    merchant_id: str | None = None,
    secret: str | None = None,
    priority: int | None = None,
    enabled: bool | None = None,
) -> None:
    supplier = await _supplier(conn, code)
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise SupplierUrlInvalid(url=base_url)
    values: dict[str, object] = {
        "name": name,
        "base_url": base_url,
        "merchant_id": merchant_id,
        "secret_sealed": cfg.seal_secret(code, secret) if secret is not None else None,
        "priority": priority,
        "enabled": enabled,
    }
    changed = {k: v for k, v in values.items() if v is not None}
    if changed:
        await repo.update_supplier(conn, supplier.id, changed, now)


async def views(conn: Conn) -> list[SupplierView]:
    return [
        SupplierView(s, await repo.products_of_supplier(conn, s.id))
        for s in await repo.all_suppliers(conn)
    ]


async def _supplier(conn: Conn, code: str) -> SupplierRow:
    supplier = await repo.supplier_by_code(conn, code)
    if supplier is None:
        raise SupplierNotFound(code=code)
    return supplier
