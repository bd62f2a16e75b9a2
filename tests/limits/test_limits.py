"""Rate limits in PostgreSQL: shared by every web process, surviving restarts."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings
from kameng.db.connection import Conn, autocommit
from kameng.db.engine import libpq_url
from kameng.limits.service import Limiter, Rule
from tests.factories import Sessions, add_keys, create_product, signed_notify
from tests.support.live import free_port

T0 = datetime(2026, 11, 25, 12, tzinfo=UTC)
RULE = Rule("test", 3, timedelta(minutes=15))


async def test_counts_within_the_window_and_starts_over_after_it(
    pool: AsyncConnectionPool[Conn], database_url: str
) -> None:
    limiter = Limiter(pool)
    assert [await limiter.hit(RULE, "a", T0 + timedelta(minutes=i)) for i in range(3)] == [1, 2, 3]
    assert await limiter.exceeded(RULE, "a", T0 + timedelta(minutes=3))
    assert not await limiter.exceeded(RULE, "b", T0 + timedelta(minutes=3))
    assert not await limiter.exceeded(RULE, "a", T0 + timedelta(minutes=15))
    assert await limiter.hit(RULE, "a", T0 + timedelta(minutes=15)) == 1
    with psycopg.connect(libpq_url(database_url)) as conn:
        keys = [row[0] for row in conn.execute("SELECT key FROM rate_limits")]
    assert len(keys) == 1 and keys[0].startswith("test:") and not keys[0].endswith(":a")


async def test_a_new_limiter_on_the_same_database_sees_the_counts(
    pool: AsyncConnectionPool[Conn], database_url: str
) -> None:
    await Limiter(pool).hit(RULE, "x", T0)
    other = AsyncConnectionPool[Conn](libpq_url(database_url), min_size=1, max_size=1, open=False)
    await other.open()
    try:
        # A restarted (or another) process: its own pool, no shared memory.
        assert await Limiter(other).hit(RULE, "x", T0 + timedelta(minutes=1)) == 2
    finally:
        await other.close()


async def test_a_count_commits_without_waiting_for_the_disk_and_leaves_the_connection_durable(
    database_url: str,
) -> None:
    """The counter's statement turns synchronous commit off for itself only: the
    same pooled connection commits the next write (an order, a payment) durably."""
    one = AsyncConnectionPool[Conn](
        libpq_url(database_url), min_size=1, max_size=1, open=False, configure=autocommit
    )
    await one.open()
    try:
        # The session's own setting (the test servers may run with it off).
        async with one.connection() as conn:
            await conn.execute("SET synchronous_commit = on")
        limiter = Limiter(one)
        assert await limiter.hit(RULE, "durable", T0) == 1
        assert await limiter.hit_and_count(RULE, "durable", T0, [(RULE, "other")]) == (2, [0])
        async with one.connection() as conn:
            setting = await (await conn.execute("SHOW synchronous_commit")).fetchone()
            assert setting == ("on",)
    finally:
        await one.close()


SERVER = (
    "import sys, uvicorn\n"
    "from kameng.config import Settings\n"
    "from kameng.web.app import create_app\n"
    "settings = Settings.model_validate_json(sys.argv[1])\n"
    "uvicorn.run(create_app(settings), host='127.0.0.1', port=int(sys.argv[2]), "
    "log_level='warning')\n"
)


@pytest.fixture
def two_servers(settings: Settings) -> Iterator[list[str]]:
    """Two real web processes on the test's database."""
    ports = [free_port(), free_port()]
    procs = []
    for port in ports:
        own = settings.model_copy(
            update={"public_url": f"http://127.0.0.1:{port}", "db_pool_size": 2}
        )
        procs.append(
            subprocess.Popen([sys.executable, "-c", SERVER, own.model_dump_json(), str(port)])
        )
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        # Generous: starting Python + the app takes seconds on a loaded 2-core CI
        # machine; a process that died fails at once instead.
        deadline = time.monotonic() + 120
        for proc, base in zip(procs, bases, strict=True):
            while True:
                try:
                    httpx.get(base + "/api/shop/products", timeout=1)
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, "server process exited"
                    assert time.monotonic() < deadline, "server did not start"
                    time.sleep(0.2)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


async def test_two_web_processes_share_the_password_limit(
    two_servers: list[str], db: Sessions, settings: Settings
) -> None:
    product_id = await create_product(db)
    await add_keys(db, settings, product_id, 1)
    first, second = two_servers
    http = httpx.AsyncClient()
    created = (
        await http.post(
            first + "/api/shop/orders", json={"product": "GAME-10", "query_password": "right-one"}
        )
    ).json()
    number = created["order_no"]
    http = httpx.AsyncClient()  # a stranger: no cookie from placing the order
    await http.get(first + "/notify/epay", params=signed_notify(settings, number, 1000))
    path = f"/api/shop/orders/{number}"
    wrong = {"X-Query-Password": "guess"}
    answers = [
        (await http.get((first, second)[i % 2] + path, headers=wrong)).status_code
        for i in range(10)
    ]
    assert answers == [403] * 10
    right = {"X-Query-Password": "right-one"}
    for base in (first, second):
        refused = await http.get(base + path, headers=right)
        assert refused.status_code == 429
        assert refused.json()["error"] == "too_many_attempts"


async def test_two_web_processes_share_the_lookup_miss_budget(
    two_servers: list[str], db: Sessions
) -> None:
    first, second = two_servers
    http = httpx.AsyncClient()
    misses = [
        await http.get((first, second)[i % 2] + "/api/shop/lookup", params={"q": f"12345{i}"})
        for i in range(5)
    ]
    assert [m.json()["kind"] for m in misses] == ["not_found"] * 5
    for base in (first, second):
        asked = await http.get(base + "/api/shop/lookup", params={"q": "123"})
        assert (asked.status_code, asked.json()["error"]) == (429, "captcha_required")


def solve(challenge: dict[str, Any]) -> str:
    import altcha

    made = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(made)
    assert solution is not None
    return str(altcha.Payload(made, solution).to_base64())


class TestCaptcha:
    async def test_after_misses_a_solved_check_lets_one_lookup_through(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        for i in range(5):
            assert (await client.get("/api/shop/lookup", params={"q": f"9{i}"})).status_code == 200
        refused = await client.get("/api/shop/lookup", params={"q": "99"})
        assert refused.status_code == 429
        assert refused.json()["error"] == "captcha_required"
        assert "快速验证" in refused.json()["message"]
        payload = solve((await client.get("/api/shop/captcha")).json())
        ok = await client.get("/api/shop/lookup", params={"q": "99"}, headers={"X-Altcha": payload})
        assert ok.status_code == 200
        replay = await client.get(
            "/api/shop/lookup", params={"q": "99"}, headers={"X-Altcha": payload}
        )
        assert replay.status_code == 429  # a solution works once
        forged = await client.get(
            "/api/shop/lookup", params={"q": "99"}, headers={"X-Altcha": "e30="}
        )
        assert forged.status_code == 429

    async def test_the_page_shows_the_offline_widget(
        self, client: httpx.AsyncClient, db: Sessions
    ) -> None:
        for i in range(5):
            await client.get("/query", params={"q": f"9{i}"})
        page = await client.get("/query", params={"q": "99"})
        assert page.status_code == 429
        assert '<altcha-widget challenge="/api/shop/captcha"' in page.text
        assert 'src="/static/js/altcha-texts.js"' in page.text  # it imports the widget
        assert (await client.get("/static/vendor/altcha/altcha-3.2.2.min.js")).status_code == 200


async def test_wrong_proofs_for_one_trade_number_are_limited(
    client: httpx.AsyncClient, db: Sessions, settings: Settings
) -> None:
    await create_product(db)
    order = (await client.post("/api/shop/orders", json={"product": "GAME-10"})).json()
    await client.get(
        "/notify/epay",
        params=signed_notify(settings, order["order_no"], 1000, trade_no="2026112512030412345"),
    )
    # Many addresses, one identifier: the per-identifier budget still holds.
    for i in range(10):
        stranger = httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=client._transport.app,  # type: ignore[attr-defined]
                client=(f"10.0.0.{i}", 1000),
            ),
            base_url="http://shop.test",
        )
        body = (
            await stranger.post(
                "/api/shop/lookup", json={"q": "2026112512030412345", "password": f"guess{i}"}
            )
        ).json()
        assert body["order"] is None
    last = await client.post(
        "/api/shop/lookup", json={"q": "2026112512030412345", "password": "guess"}
    )
    assert (last.status_code, last.json()["error"]) == (429, "too_many_proofs")


async def test_the_hourly_job_forgets_windows_over_a_day_ago_and_keeps_the_rest(
    pool: AsyncConnectionPool[Conn], database_url: str, clock: Any, run_jobs: Any
) -> None:
    from kameng.limits.tasks import forget_stale

    limiter = Limiter(pool)
    now = clock.now()
    await limiter.hit(RULE, "old", now - timedelta(days=2))
    await limiter.hit(RULE, "recent", now - timedelta(hours=2))
    await limiter.hit(RULE, "live", now)
    await forget_stale.defer_async(timestamp=0)
    await run_jobs()
    assert not await limiter.exceeded(Rule("test", 1, RULE.window), "old", now - timedelta(days=2))
    assert await limiter.count(RULE, "recent", now - timedelta(hours=2)) == 1
    assert await limiter.count(RULE, "live", now) == 1
    with psycopg.connect(libpq_url(database_url)) as conn:
        left = conn.execute("SELECT count(*) FROM rate_limits").fetchone()
    assert left == (2,)


async def test_one_statement_counts_one_rule_and_reads_the_others(
    pool: AsyncConnectionPool[Conn],
) -> None:
    limiter = Limiter(pool)
    other = Rule("test-other", 2, timedelta(minutes=5))
    for _ in range(2):
        await limiter.hit(other, "a", T0)
    reads: list[tuple[Rule, str | None]] = [(other, "a"), (other, None), (RULE, "b")]
    assert await limiter.hit_and_count(RULE, "a", T0, reads) == (1, [2, 0, 0])
    assert await limiter.hit_and_count(RULE, "a", T0 + timedelta(minutes=1), reads) == (
        2,
        [2, 0, 0],
    )
    # The read rule's window is over: it reads 0; the counted rule's is not.
    later = T0 + timedelta(minutes=5)
    assert await limiter.hit_and_count(RULE, "a", later, reads) == (3, [0, 0, 0])
    # Reading changes nothing; only the counted rule moved.
    assert await limiter.count(other, "a", T0) == 2
    assert await limiter.count(RULE, "b", T0) == 0
    assert await limiter.hit_and_count(RULE, "c", T0, []) == (1, [])


async def test_a_counter_commits_on_its_own_outside_any_request_transaction(
    database_url: str, db: Sessions
) -> None:
    one = AsyncConnectionPool[Conn](libpq_url(database_url), min_size=1, max_size=1, open=False)
    await one.open()
    try:
        await Limiter(one).hit(RULE, "x", T0)
        # Committed: another connection sees it at once.
        with psycopg.connect(libpq_url(database_url)) as conn:
            assert conn.execute("SELECT hits FROM rate_limits").fetchone() == (1,)
    finally:
        await one.close()
