"""Query results as typed dataclasses, mapped by column name, never by position.

A row class declares where its fields come from with ``@row_of``: the table
whose columns its fields are named after, and, for columns joined in from
another table, an explicit alias (``product_sku="products.sku"``: the query
selects ``p.sku AS product_sku``). ``tests/db/test_rows.py`` checks every
declaration against the SQLAlchemy models, and ``typed_row`` refuses a result
whose column names are not exactly the class's fields. Fields typed with a
``StrEnum`` (``status: OrderStatus``) are converted on the way in.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from psycopg import AsyncCursor
from psycopg.rows import AsyncRowFactory, RowMaker

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RowSource:
    table: str  # fields are columns of this table...
    aliases: dict[str, str]  # ...except these: field -> "other_table.column"


ROW_CLASSES: dict[type[Any], RowSource] = {}


def row_of(table: str, **aliases: str) -> Callable[[type[T]], type[T]]:
    """Declare a dataclass a row of ``table`` (plus aliased joined columns)."""

    def register(cls: type[T]) -> type[T]:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a dataclass")
        ROW_CLASSES[cls] = RowSource(table, dict(aliases))
        return cls

    return register


def _converter(hint: Any) -> Callable[[Any], Any] | None:
    """The StrEnum to build from a text column (``E`` or ``E | None``), if any."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    enums = [o for o in options if isinstance(o, type) and issubclass(o, StrEnum)]
    if not enums:
        return None
    enum = enums[0]
    if type(None) in options:
        return lambda value: None if value is None else enum(value)
    return enum


_PLANS: dict[type[Any], tuple[frozenset[str], dict[str, Callable[[Any], Any]]]] = {}


def _plan(cls: type[Any]) -> tuple[frozenset[str], dict[str, Callable[[Any], Any]]]:
    plan = _PLANS.get(cls)
    if plan is None:
        if cls not in ROW_CLASSES:
            raise TypeError(f"{cls.__name__} is not declared with @row_of")
        hints = typing.get_type_hints(cls)
        fields = frozenset(f.name for f in dataclasses.fields(cls))
        converters = {name: c for name in fields if (c := _converter(hints[name])) is not None}
        plan = _PLANS[cls] = (fields, converters)
    return plan


def typed_row(cls: type[T]) -> AsyncRowFactory[T]:
    """A psycopg row factory building ``cls`` from columns of the same names."""
    fields, converters = _plan(cls)

    def factory(cursor: AsyncCursor[Any]) -> RowMaker[T]:
        names = [c.name for c in cursor.description or ()]
        if set(names) != fields or len(names) != len(fields):
            raise TypeError(
                f"{cls.__name__} has fields {sorted(fields)}, the query returns {names}"
            )
        convert = [converters.get(name) for name in names]

        def make(values: Sequence[Any]) -> T:
            return cls(
                **{
                    name: value if conv is None else conv(value)
                    for name, value, conv in zip(names, values, convert, strict=True)
                }
            )

        return make

    return factory
