"""The request path's connections: autocommit pool, ``transaction()`` still atomic."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from psycopg import errors
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn, atomic, fetch_one, single_statements, transaction

# A scratch table, dropped after each test (the schema must stay the migrations').
CREATE = "DROP TABLE IF EXISTS conn_probe; CREATE TABLE conn_probe (id int PRIMARY KEY)"


@pytest.fixture(autouse=True)
async def _drop_probe(pool: AsyncConnectionPool[Conn]) -> AsyncIterator[None]:
    yield
    async with single_statements(pool) as conn:
        await conn.execute("DROP TABLE IF EXISTS conn_probe")


async def _count(pool: AsyncConnectionPool[Conn]) -> int:
    async with single_statements(pool) as conn:
        row = await fetch_one(conn, "SELECT count(*) FROM conn_probe")
    return int(row[0])


async def test_transaction_on_the_autocommit_pool_rolls_back_every_statement(
    pool: AsyncConnectionPool[Conn],
) -> None:
    async with single_statements(pool) as conn:
        await conn.execute(CREATE)
    with pytest.raises(errors.UniqueViolation):
        async with transaction(pool) as conn:
            await conn.execute("INSERT INTO conn_probe VALUES (1)")
            await conn.execute("INSERT INTO conn_probe VALUES (1)")  # fails: the first goes too
    assert await _count(pool) == 0
    async with transaction(pool) as conn:
        await conn.execute("INSERT INTO conn_probe VALUES (1), (2)")
    assert await _count(pool) == 2


async def test_single_statements_commit_each_statement_and_leave_no_transaction_open(
    pool: AsyncConnectionPool[Conn],
) -> None:
    async with single_statements(pool) as conn:
        await conn.execute(CREATE)
    async with single_statements(pool) as conn:
        await conn.execute("INSERT INTO conn_probe VALUES (1)")
        with pytest.raises(errors.UniqueViolation):
            await conn.execute("INSERT INTO conn_probe VALUES (1)")  # its own failure only
        assert conn.info.transaction_status == TransactionStatus.IDLE
    assert await _count(pool) == 1


async def test_atomic_on_single_statements_keeps_writes_together(
    pool: AsyncConnectionPool[Conn],
) -> None:
    async with single_statements(pool) as conn:
        await conn.execute(CREATE)
    async with single_statements(pool) as conn:
        with pytest.raises(errors.UniqueViolation):
            async with atomic(conn):
                await conn.execute("INSERT INTO conn_probe VALUES (1)")
                await conn.execute("INSERT INTO conn_probe VALUES (1)")
        async with atomic(conn):
            await conn.execute("INSERT INTO conn_probe VALUES (2)")
            await conn.execute("INSERT INTO conn_probe VALUES (3)")
    assert await _count(pool) == 2
