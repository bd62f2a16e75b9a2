"""Row classes are mapped by column name onto the schema the models define."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import CheckConstraint, Table

import kameng
from kameng.db.connection import fetch_one_as, transaction
from kameng.db.rows import ROW_CLASSES, row_of
from kameng.fulfilment.strategies.registry import STRATEGIES
from kameng.models import Base
from kameng.models.vocabulary import OrderStatus, ProductKind, sql_values
from kameng.orders.repository import OrderRow


def _import_everything() -> list[str]:
    """Import every module of kameng (so every @row_of has run); their names."""
    names = []
    for info in pkgutil.walk_packages(kameng.__path__, "kameng."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
        names.append(info.name)
    return names


MODULES = _import_everything()


def _column_of(cls: type[Any], field: str) -> tuple[Table, str]:
    source = ROW_CLASSES[cls]
    table, column = (
        source.aliases[field].split(".") if field in source.aliases else (source.table, field)
    )
    return Base.metadata.tables[table], column


def test_row_classes_are_declared() -> None:
    names = {f"{cls.__module__}.{cls.__name__}" for cls in ROW_CLASSES}
    assert {
        "kameng.orders.repository.OrderRow",
        "kameng.orders.repository.EventRow",
        "kameng.payments.active_query.repository.DueQuery",
        "kameng.catalog.repository.ProductRow",
        "kameng.payments.repository.PaymentRow",
    } <= names
    # Every dataclass a repository defines is a declared row class.
    undeclared = [
        f"{name}.{obj.__name__}"
        for name in MODULES
        if name.endswith("repository")
        for obj in vars(importlib.import_module(name)).values()
        if isinstance(obj, type)
        and dataclasses.is_dataclass(obj)
        and obj.__module__ == name
        and obj not in ROW_CLASSES
    ]
    assert undeclared == []


@pytest.mark.parametrize("cls", sorted(ROW_CLASSES, key=lambda c: c.__name__))
def test_row_fields_are_columns_of_the_models(cls: type[Any]) -> None:
    source = ROW_CLASSES[cls]
    fields = {f.name for f in dataclasses.fields(cls)}
    assert set(source.aliases) <= fields, "an alias names no field"
    missing = []
    for field in sorted(fields):
        table, column = _column_of(cls, field)
        if column not in table.columns:
            missing.append(f"{field} <- {table.name}.{column}")
    assert missing == []


@pytest.mark.parametrize("cls", sorted(ROW_CLASSES, key=lambda c: c.__name__))
def test_enum_fields_are_checked_by_the_same_enum(cls: type[Any]) -> None:
    """A field typed ``E`` reads a column whose CHECK lists exactly E's values."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        options = typing.get_args(hints[field.name]) or (hints[field.name],)
        enums = [o for o in options if isinstance(o, type) and issubclass(o, StrEnum)]
        if not enums:
            continue
        table, column = _column_of(cls, field.name)
        checks = {str(c.sqltext) for c in table.constraints if isinstance(c, CheckConstraint)}
        assert f"{column} IN ({sql_values(enums[0])})" in checks, (cls, field.name)


def test_every_product_kind_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(ProductKind)
    assert all(kind == strategy.kind for kind, strategy in STRATEGIES.items())


def test_row_decorator_refuses_what_is_not_a_dataclass() -> None:
    with pytest.raises(TypeError):
        row_of("orders")(type("NotARow", (), {}))


@row_of("orders")
@dataclass(frozen=True, slots=True)
class _StatusOnly:
    order_no: str
    status: OrderStatus


async def test_rows_are_mapped_by_name_with_enums(pool: Any) -> None:
    async with transaction(pool) as conn:
        # Columns in another order than the fields: mapped by name, not position.
        row = await fetch_one_as(conn, _StatusOnly, "SELECT 'delivered' AS status, '1' AS order_no")
    assert row == _StatusOnly(order_no="1", status=OrderStatus.DELIVERED)
    assert type(row.status) is OrderStatus


async def test_a_query_not_matching_the_row_class_is_refused(pool: Any) -> None:
    async with transaction(pool) as conn:
        with pytest.raises(TypeError, match="order_no"):
            await fetch_one_as(conn, _StatusOnly, "SELECT 'paid' AS status, '1' AS order_num")
        with pytest.raises(ValueError):  # a word the enum does not know
            await fetch_one_as(conn, _StatusOnly, "SELECT 'lost' AS status, '1' AS order_no")


def test_order_row_maps_joined_product_columns_explicitly() -> None:
    assert ROW_CLASSES[OrderRow].aliases == {
        "product_sku": "products.sku",
        "product_name": "products.name",
        "product_kind": "products.kind",
    }
