"""Supplier callbacks: verified, applied once, recorded whatever they say, never a 5xx."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn, transaction
from kameng.fulfilment.supply import engine
from kameng.fulfilment.supply.callbacks import handle_callback
from kameng.fulfilment.supply.protocol import Outcome, SupplierAnswer
from kameng.fulfilment.supply.repository import attempts_of_order, callbacks_of
from kameng.kit import clock
from kameng.models.vocabulary import OrderStatus
from kameng.orders.repository import OrderRow
from kameng.sandbox.supplier_store import md5_sign
from tests.supply.harness import (
    MERCHANTS,
    attempts,
    current,
    event_types,
    paid_topup,
    setup_suppliers,
    supply_config,
)

DEAD = "http://127.0.0.1:9"  # nothing listens: the placement's outcome is unknown


async def _unknown_attempt(pool: AsyncConnectionPool[Conn], settings: Settings) -> OrderRow:
    cfg = supply_config(settings)
    await setup_suppliers(pool, cfg, DEAD, b_code=None)
    order = await paid_topup(pool, settings)
    await engine.step(pool, cfg, order.id)
    assert await attempts(pool, order) == [("A", "unknown", False)]
    return order


def _callback(
    order_no: str,
    *,
    status: str = "success",
    key: str = MERCHANTS["m-a"],
    age: int = 0,
    nonce: str = "n1",
    merchant: str = "m-a",
) -> dict[str, str]:
    fields = {
        "merchant_id": merchant,
        "out_order_no": order_no,
        "order_no": "S1",
        "status": status,
        "voucher": "V-1" if status == "success" else "",
        "timestamp": str(int(time.time()) - age),
        "nonce": nonce,
    }
    fields["sign"] = md5_sign(fields, key)
    return fields


async def _post(client: Any, fields: dict[str, str], code: str = "A") -> Any:
    return await client.post(
        f"/notify/supplier/{code}",
        content=urlencode(fields),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


async def _verdicts(pool: AsyncConnectionPool[Conn]) -> list[str]:
    async with transaction(pool) as conn:
        return [v for v, _ in await callbacks_of(conn, "A")]


async def test_a_good_callback_delivers_once_and_its_replay_is_refused(
    client: Any, pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    order = await _unknown_attempt(pool, settings)
    body = _callback(order.order_no)
    first = await _post(client, body)
    assert (first.status_code, first.text) == (200, "success")
    assert (await current(pool, order.order_no)).status == OrderStatus.DELIVERED
    replay = await _post(client, body)
    assert (replay.status_code, replay.text) == (400, "fail")
    again = await _post(client, _callback(order.order_no, nonce="n2"))
    assert (again.status_code, again.text) == (200, "success")
    late_failure = await _post(client, _callback(order.order_no, status="failed", nonce="n3"))
    assert late_failure.status_code == 200  # on record for the operator; the supplier stops
    assert await _verdicts(pool) == ["accepted", "replayed_nonce", "duplicate", "conflict"]
    assert (await current(pool, order.order_no)).status == OrderStatus.DELIVERED
    assert (await event_types(pool, order)).count("topped_up") == 1


@pytest.mark.parametrize(
    ("change", "verdict"),
    [
        ({"key": "wrong-key"}, "bad_signature"),
        ({"merchant": "m-b", "key": MERCHANTS["m-b"]}, "bad_signature"),
        ({"age": 301}, "stale_timestamp"),
        (
            {"age": -330},
            "stale_timestamp",
        ),  # 30 s ahead of the limit: the check runs a moment after signing
        ({"nonce": ""}, "malformed"),
        ({"status": "processing?"}, "malformed"),
    ],
)
async def test_a_bad_callback_is_refused_recorded_and_changes_nothing(
    client: Any,
    pool: AsyncConnectionPool[Conn],
    settings: Settings,
    change: dict[str, Any],
    verdict: str,
) -> None:
    order = await _unknown_attempt(pool, settings)
    response = await _post(client, _callback(order.order_no, **change))
    assert (response.status_code, response.text) == (400, "fail")
    assert await _verdicts(pool) == [verdict]
    assert (await current(pool, order.order_no)).status == OrderStatus.FULFILLING
    assert await attempts(pool, order) == [("A", "unknown", False)]


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xfe garbage", b"status=success", b"a=1&a=2", "签名=错".encode()],
)
async def test_garbage_is_a_400_never_a_5xx(
    client: Any, pool: AsyncConnectionPool[Conn], settings: Settings, body: bytes
) -> None:
    await _unknown_attempt(pool, settings)
    for code in ("A", "NOPE"):
        response = await client.post(
            f"/notify/supplier/{code}",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert (response.status_code, response.text) == (400, "fail")


async def test_unknown_supplier_and_unknown_order_are_recorded(
    client: Any, pool: AsyncConnectionPool[Conn], settings: Settings
) -> None:
    await _unknown_attempt(pool, settings)
    assert (await _post(client, _callback("1234567890123452"))).status_code == 400
    assert (await _post(client, _callback("1234567890123452"), code="Z")).status_code == 400
    assert await _verdicts(pool) == ["unknown_order"]
    async with transaction(pool) as conn:
        assert [v for v, _ in await callbacks_of(conn, "Z")] == ["unknown_supplier"]


@pytest.mark.parametrize("callback_says", ["success", "failed"])
async def test_a_callback_racing_a_query_answer_ends_in_one_outcome(
    pool: AsyncConnectionPool[Conn], settings: Settings, callback_says: str
) -> None:
    order = await _unknown_attempt(pool, settings)
    cfg = supply_config(settings)
    async with transaction(pool) as conn:
        [attempt] = await attempts_of_order(conn, order.id)

    async def query_answer() -> None:
        async with transaction(pool) as conn:
            await engine.apply(
                conn, cfg, order.id, attempt.id,
                SupplierAnswer(Outcome.SUCCEEDED, voucher="V-Q"), via="query", now=clock.now(),
            )  # fmt: skip

    async def callback() -> None:
        async with transaction(pool) as conn:
            await handle_callback(
                conn, cfg, supplier_code="A",
                params=_callback(order.order_no, status=callback_says), raw_body="",
                now=clock.now(),
            )  # fmt: skip

    await asyncio.gather(query_answer(), callback())
    [(_, status, _)] = await attempts(pool, order)
    types = await event_types(pool, order)
    if status == "succeeded":
        assert (await current(pool, order.order_no)).status == OrderStatus.DELIVERED
        assert types.count("topped_up") == 1
    else:
        assert status == "failed" and "topped_up" not in types
        assert (await current(pool, order.order_no)).status == OrderStatus.FULFILLING
    verdicts = await _verdicts(pool)
    assert len(verdicts) == 1 and verdicts[0] in ("accepted", "duplicate", "conflict")
