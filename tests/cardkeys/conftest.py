"""What the card-key tests share: an autocommit connection to the test database
(the importer and the re-keying run inside the caller's transaction, or none)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from kameng.db.engine import libpq_url
from tests.factories import Sessions

Conn = psycopg.AsyncConnection[Any]


@pytest.fixture
async def conn(db: Sessions, database_url: str) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(
        libpq_url(database_url), autocommit=True
    ) as connection:
        yield connection
