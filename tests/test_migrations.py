"""The migrations and the models describe the same schema (no drift)."""

from __future__ import annotations

import re

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, create_engine

from kameng.db.engine import libpq_url, sqlalchemy_url
from kameng.models import Base
from kameng.models.vocabulary import OrderStatus


def test_models_match_migrations(database_url: str) -> None:
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_object": lambda obj, name, type_, reflected, compare_to: (
                        not (type_ == "table" and name and name.startswith("procrastinate"))
                    ),
                    "compare_type": True,
                },
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def _literals(sql: str) -> list[str]:
    return sorted(re.findall(r"'([^']*)'", sql))


def test_check_constraints_match_models(database_url: str) -> None:
    """Alembic's comparison skips CHECK constraints: compare them here, by name and by
    the words they allow (the enums in kameng.models.vocabulary)."""
    expected = {}
    for table in Base.metadata.tables.values():
        for c in table.constraints:
            if isinstance(c, CheckConstraint):
                expected[str(c.name)] = _literals(str(c.sqltext))
    with psycopg.connect(libpq_url(database_url)) as conn:
        rows = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'c' AND connamespace = 'public'::regnamespace "
            "AND conrelid::regclass::text NOT LIKE 'procrastinate%'"
        ).fetchall()
    actual = {name: _literals(definition) for name, definition in rows}
    assert actual == expected
    assert expected["ck_orders_known_status"] == sorted(OrderStatus)
