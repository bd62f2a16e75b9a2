"""Property: any change to a signed notify is rejected by the adapter."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kameng.payments.gateways import epay_sign
from kameng.payments.gateways.base import InboundNotify, NotifyRejected
from kameng.payments.gateways.epay_v1 import EpayV1Gateway

KEY = "merchant-key"
gateway = EpayV1Gateway(name="epay", base_url="http://epay.test/", pid="1001", key=KEY)

BASE = {
    "pid": "1001",
    "trade_no": "2026112512000012345",
    "out_trade_no": "1234567890123452",
    "type": "alipay",
    "name": "游戏点卡 10 元",
    "money": "10",
    "trade_status": "TRADE_SUCCESS",
}


def signed(params: dict[str, str]) -> dict[str, str]:
    return params | {"sign": epay_sign.sign(params, KEY), "sign_type": "MD5"}


def as_get(params: dict[str, str]) -> InboundNotify:
    return InboundNotify(method="GET", query=tuple(params.items()))


def test_signature_matches_a_hand_computed_md5() -> None:
    expected_string = (
        "money=10&name=游戏点卡 10 元&out_trade_no=1234567890123452&pid=1001&"
        "trade_no=2026112512000012345&trade_status=TRADE_SUCCESS&type=alipay"
    )
    assert epay_sign.signing_string(BASE | {"param": ""}) == expected_string
    assert epay_sign.sign(BASE, KEY) == hashlib.md5((expected_string + KEY).encode()).hexdigest()


def test_untouched_notify_verifies() -> None:
    verified = gateway.parse_notify(as_get(signed(BASE)))
    assert (verified.out_trade_no, verified.trade_no, verified.amount_cents) == (
        "1234567890123452",
        "2026112512000012345",
        1000,
    )


def test_empty_key_is_refused_at_configuration() -> None:
    with pytest.raises(ValueError, match="key is empty"):
        EpayV1Gateway(name="epay", base_url="http://x/", pid="1", key="")


@given(field=st.sampled_from(sorted(BASE)), value=st.text(min_size=1, max_size=20))
def test_any_changed_field_is_rejected(field: str, value: str) -> None:
    params = signed(BASE)
    if params[field] == value:
        return
    params[field] = value
    with pytest.raises(NotifyRejected):
        gateway.parse_notify(as_get(params))


@given(
    extra=st.text(st.characters(categories=["Ll"]), min_size=1, max_size=8),
    value=st.text(min_size=1, max_size=8),
)
def test_an_added_field_is_rejected(extra: str, value: str) -> None:
    params = signed(BASE)
    if extra in params:
        return
    params[extra] = value
    with pytest.raises(NotifyRejected) as caught:
        gateway.parse_notify(as_get(params))
    assert caught.value.verdict == "bad_signature"


@given(field=st.sampled_from(sorted(BASE)))
def test_a_removed_field_is_rejected(field: str) -> None:
    params = signed(BASE)
    del params[field]
    with pytest.raises(NotifyRejected):
        gateway.parse_notify(as_get(params))
