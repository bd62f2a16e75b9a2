"""Random input to every POST: the buy form, the order API's JSON body, the
query-password form and the payment notifies (GET and POST, every gateway).

Whatever arrives, the answer is never a 5xx, and what must not change does not:
a refused order creates nothing, a password form changes nothing, a notify that
is not correctly signed pays nothing (it is only logged, once).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from kameng.config import Settings
from kameng.payments.service import REFUSED_STORED_PER_MINUTE
from kameng.sandbox.wechatpay.keys import load_or_create
from kameng.web.app import create_app
from tests.e2e.test_alipay_roundtrip import alipay_settings
from tests.factories import Sessions, count, csrf_form, make_order, make_stocked_product
from tests.wechatpay.conftest import wechat_settings

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Strings that look like numbers to someone: Unicode digits that str.isdigit()
# accepts and int() may refuse (², ①), other scripts' digits, signs, spaces,
# exponents, and sizes far out of range.
NUMBERISH = st.sampled_from(
    [
        "²",
        "①",
        "٣",
        "１２",
        "𝟙",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.0",
        "1e3",
        "0x10",
        "1_0",
        "0",
        "00",
        "9" * 20,
        "",
        "NaN",
    ]
)
DIGITS = st.text(st.characters(categories=("Nd", "No", "Nl")), min_size=1, max_size=4)
TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["GAME-10", "epay", "alipay", "wechatpay", "\x00", "a" * 600, "%00", "'"]),
)
NUMBER_TEXT = st.one_of(NUMBERISH, DIGITS, TEXT)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=8,
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/json",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "text/plain",
        "",
    ]
)


async def snapshot(db: Sessions) -> tuple[int, ...]:
    """What no refused request may change (one round trip: it runs per example)."""
    async with db() as s:
        row = (
            await s.execute(
                text(
                    "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_events),"
                    " (SELECT count(*) FROM payments),"
                    " (SELECT count(*) FROM card_keys WHERE status = 'sold'),"
                    " (SELECT count(*) FROM orders WHERE status <> 'unpaid')"
                )
            )
        ).one()
    return tuple(int(value) for value in row)


def created_one(before: tuple[int, ...], after: tuple[int, ...]) -> bool:
    """One more unpaid order with its one 'created' event, nothing else."""
    return after == (before[0] + 1, before[1] + 1, *before[2:])


@pytest.fixture
async def shop(db: Sessions, settings: Settings) -> dict[str, Any]:
    """GAME-10 with two keys and an unpaid order of it with a query password."""
    await make_stocked_product(db, settings, 2)
    order = await make_order(db, query_password="right-password")
    return {"order_no": order.order_no}


class TestBuyForm:
    @FUZZ
    @example(fields={"product": "GAME-10", "quantity": "²"})
    @example(fields={"product": "GAME-10", "quantity": "①"})
    @example(fields={"product": "GAME-10", "quantity": "１２"})
    @given(
        fields=st.fixed_dictionaries(
            {},
            optional={
                "product": st.one_of(st.just("GAME-10"), TEXT),
                "quantity": NUMBER_TEXT,
                "contact": TEXT,
                "query_password": TEXT,
                "gateway": st.one_of(st.just("epay"), TEXT),
                "surprise": TEXT,
            },
        )
    )
    async def test_any_form_is_answered_without_5xx(
        self, client: httpx.AsyncClient, db: Sessions, shop: dict[str, Any], fields: dict[str, str]
    ) -> None:
        before = await snapshot(db)
        response = await client.post("/buy", data=await csrf_form(client, fields))
        assert response.status_code < 500, (fields, response.text[:300])
        after = await snapshot(db)
        if response.status_code == 303:
            assert created_one(before, after), fields
        else:
            assert response.status_code in (404, 422), (fields, response.status_code)
            assert after == before, fields

    @FUZZ
    @given(body=st.binary(max_size=200), content_type=CONTENT_TYPES)
    async def test_any_body_is_answered_without_5xx(
        self,
        client: httpx.AsyncClient,
        db: Sessions,
        shop: dict[str, Any],
        body: bytes,
        content_type: str,
    ) -> None:
        before = await snapshot(db)
        response = await client.post("/buy", content=body, headers={"content-type": content_type})
        assert response.status_code < 500, (body, content_type, response.text[:300])
        if response.status_code != 303:
            assert await snapshot(db) == before

    @pytest.mark.parametrize("quantity", ["²", "①", "٣", "１２", "𝟙", "0x10"])
    async def test_a_quantity_in_other_digits_is_a_clear_422(
        self, client: httpx.AsyncClient, db: Sessions, shop: dict[str, Any], quantity: str
    ) -> None:
        before = await snapshot(db)
        zh = await client.post(
            "/buy", data=await csrf_form(client, {"product": "GAME-10", "quantity": quantity})
        )
        en = await client.post(
            "/buy?lang=en",
            data=await csrf_form(client, {"product": "GAME-10", "quantity": quantity}),
        )
        assert (zh.status_code, en.status_code) == (422, 422)
        assert "数量：须为整数" in zh.text  # the form's word for the field
        assert "Quantity: a whole number is needed" in en.text
        assert await snapshot(db) == before


class TestOrderApi:
    @FUZZ
    @example(body={"product": "GAME-10", "quantity": "²"})
    @example(body={"product": "GAME-10", "quantity": 10**30})
    @example(body={"product": "GAME-10", "quantity": 1.5})
    @given(
        body=st.one_of(
            JSON_VALUES,
            st.fixed_dictionaries(
                {"product": st.one_of(st.just("GAME-10"), JSON_VALUES)},
                optional={
                    "quantity": st.one_of(st.integers(), NUMBER_TEXT, JSON_VALUES),
                    "contact": JSON_VALUES,
                    "query_password": JSON_VALUES,
                    "gateway": st.one_of(st.sampled_from(["epay", "alipay"]), JSON_VALUES),
                },
            ),
        )
    )
    async def test_any_json_is_answered_without_5xx(
        self, client: httpx.AsyncClient, db: Sessions, shop: dict[str, Any], body: Any
    ) -> None:
        before = await snapshot(db)
        response = await client.post("/api/shop/orders", json=body)
        assert response.status_code < 500, (body, response.text[:300])
        after = await snapshot(db)
        if response.status_code == 201:
            assert created_one(before, after), body
        else:
            assert response.status_code in (404, 422), (body, response.status_code)
            problem = response.json()
            assert problem["error"] and problem["message"], problem
            assert after == before, body

    @FUZZ
    @given(body=st.binary(max_size=200), content_type=CONTENT_TYPES)
    async def test_any_bytes_are_answered_without_5xx(
        self,
        client: httpx.AsyncClient,
        db: Sessions,
        shop: dict[str, Any],
        body: bytes,
        content_type: str,
    ) -> None:
        before = await snapshot(db)
        response = await client.post(
            "/api/shop/orders", content=body, headers={"content-type": content_type}
        )
        assert response.status_code < 500, (body, content_type, response.text[:300])
        if response.status_code != 201:
            assert await snapshot(db) == before


class TestPasswordForm:
    @FUZZ
    @given(
        number=st.one_of(st.none(), TEXT, NUMBERISH),
        password=TEXT,
        extra=st.dictionaries(TEXT, TEXT, max_size=2),
    )
    async def test_any_password_form_changes_nothing(
        self,
        client: httpx.AsyncClient,
        db: Sessions,
        shop: dict[str, Any],
        number: str | None,
        password: str,
        extra: dict[str, str],
    ) -> None:
        from urllib.parse import quote

        order_no = shop["order_no"] if number is None else quote(number, safe="")
        stranger = httpx.AsyncClient(transport=client._transport, base_url="http://shop.test")
        before = await snapshot(db)
        response = await stranger.post(
            f"/o/{order_no}", data=await csrf_form(stranger, {"password": password} | extra)
        )
        assert response.status_code < 500, (number, password, response.text[:300])
        assert await snapshot(db) == before


@pytest.fixture(scope="module")
def wechat_identity(tmp_path_factory: pytest.TempPathFactory) -> Any:
    identity, _created = load_or_create(Path(tmp_path_factory.mktemp("wechatpay-fuzz")))
    return identity


@pytest.fixture
async def every_gateway(
    db: Sessions, settings: Settings, pool: Any, wechat_identity: Any, shop: dict[str, Any]
) -> Any:
    """The shop with epay, Alipay and WeChat Pay all configured."""
    configured = alipay_settings(wechat_settings(settings, wechat_identity))
    app = create_app(configured, pool=pool)
    transport = httpx.ASGITransport(
        app=app, client=("127.0.0.1", 40005), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as gateway:
        yield gateway


NOTIFY_FIELDS = st.sampled_from(
    [
        "pid",
        "trade_no",
        "out_trade_no",
        "type",
        "name",
        "money",
        "trade_status",
        "sign",
        "sign_type",
        "app_id",
        "total_amount",
        "seller_id",
        "notify_id",
        "resource",
    ]
)


class TestNotify:
    @FUZZ
    @given(
        gateway=st.one_of(st.sampled_from(["epay", "alipay", "wechatpay"]), TEXT),
        method=st.sampled_from(["GET", "POST"]),
        fields=st.dictionaries(st.one_of(NOTIFY_FIELDS, TEXT), TEXT, max_size=8),
        use_order=st.booleans(),
    )
    async def test_any_form_notify_pays_nothing(
        self,
        every_gateway: httpx.AsyncClient,
        db: Sessions,
        shop: dict[str, Any],
        gateway: str,
        method: str,
        fields: dict[str, str],
        use_order: bool,
    ) -> None:
        from urllib.parse import quote

        if use_order:
            fields = fields | {"out_trade_no": shop["order_no"]}
        before = await snapshot(db)
        logged = await count(db, "SELECT count(*) FROM payment_notifies")
        url = f"/notify/{quote(gateway, safe='')}"
        if method == "GET":
            response = await every_gateway.get(url, params=fields)
        else:
            response = await every_gateway.post(url, data=fields)
        assert response.status_code < 500, (gateway, fields, response.text[:300])
        assert await snapshot(db) == before, (gateway, fields)
        if response.status_code != 404:  # a path that is no gateway route at all
            # Stored, unless this address is past the flood limit of refused notifies.
            hits = await count(db, "SELECT coalesce(max(hits), 0) FROM rate_limits")
            flooded = hits > REFUSED_STORED_PER_MINUTE
            stored = await count(db, "SELECT count(*) FROM payment_notifies")
            assert stored == logged + (0 if flooded else 1), (
                hits,
                response.status_code,
                response.text[:100],
                gateway,
            )

    @FUZZ
    @given(
        gateway=st.sampled_from(["epay", "alipay", "wechatpay"]),
        body=st.one_of(st.binary(max_size=300), JSON_VALUES.map(lambda v: json.dumps(v).encode())),
        content_type=CONTENT_TYPES,
        headers=st.dictionaries(
            st.sampled_from(
                [
                    "wechatpay-signature",
                    "wechatpay-timestamp",
                    "wechatpay-nonce",
                    "wechatpay-serial",
                    "wechatpay-signature-type",
                ]
            ),
            st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=40),
        ),
    )
    async def test_any_body_notify_pays_nothing(
        self,
        every_gateway: httpx.AsyncClient,
        db: Sessions,
        shop: dict[str, Any],
        gateway: str,
        body: bytes,
        content_type: str,
        headers: dict[str, str],
    ) -> None:
        before = await snapshot(db)
        response = await every_gateway.post(
            f"/notify/{gateway}", content=body, headers={"content-type": content_type} | headers
        )
        assert response.status_code < 500, (gateway, body, headers, response.text[:300])
        assert await snapshot(db) == before, (gateway, body)
