"""A flood of refused notifies from one address is answered but not stored past
REFUSED_STORED_PER_MINUTE; a real payment from the same address still counts."""

from __future__ import annotations

import httpx

from kameng.config import Settings
from kameng.kit.clock import FrozenClock
from kameng.payments.service import REFUSED_STORED_PER_MINUTE
from tests.factories import Sessions, count, make_stocked_product, place_order, signed_notify


async def test_refused_notifies_are_stored_up_to_the_limit(
    client: httpx.AsyncClient, db: Sessions, settings: Settings, clock: FrozenClock
) -> None:
    await make_stocked_product(db, settings, keys=1)
    order = await place_order(client)
    forged = signed_notify(settings, order["order_no"], 1000) | {"sign": "0" * 32}
    for _ in range(REFUSED_STORED_PER_MINUTE + 5):
        assert (await client.get("/notify/epay", params=forged)).text == "fail"
    assert await count(db, "SELECT count(*) FROM payment_notifies") == REFUSED_STORED_PER_MINUTE

    good = signed_notify(settings, order["order_no"], 1000)
    assert (await client.get("/notify/epay", params=good)).text == "success"
    assert await count(db, "SELECT count(*) FROM payment_notifies WHERE verdict = 'accepted'") == 1
    assert await count(db, "SELECT count(*) FROM payments") == 1

    clock.advance(minutes=1)  # a new window: refused ones are stored again
    assert (await client.get("/notify/epay", params=forged)).text == "fail"
    assert await count(db, "SELECT count(*) FROM payment_notifies") == REFUSED_STORED_PER_MINUTE + 2
