"""Property: any change to a signed WeChat Pay notify (a byte of the body, of a
signed header) is rejected by the adapter; the unchanged one is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kameng.kit.clock import SystemClock
from kameng.payments.gateways.base import InboundNotify, NotifyRejected
from kameng.payments.gateways.wechatpay_v3 import WechatPayV3Gateway
from kameng.sandbox.wechatpay.keys import Identity, load_or_create
from kameng.sandbox.wechatpay.notifier import Notifier
from kameng.sandbox.wechatpay.store import Store

SIGNED_HEADERS = ("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature")


@pytest.fixture(scope="module")
def parts(sandbox_dir: Path) -> tuple[WechatPayV3Gateway, bytes, dict[str, str]]:
    identity: Identity = load_or_create(sandbox_dir)[0]
    gateway = WechatPayV3Gateway(
        name="wechatpay",
        api_url="http://wxpay.sandbox.test",
        mchid=identity.mchid,
        appid=identity.appid,
        merchant_serial_no=identity.merchant_serial_no,
        private_key_pem=identity.merchant_key_file.read_text(),
        apiv3_key=identity.apiv3_key,
        platform_public_key_pem=identity.platform_public_key_file.read_text(),
        platform_public_key_id=identity.public_key_id,
    )
    clock = SystemClock().now
    notifier = Notifier(
        identity, Store(sandbox_dir / "unused.json", clock), identity.public_key_id, 1.0, None
    )
    resource = {
        "appid": identity.appid,
        "mchid": identity.mchid,
        "out_trade_no": "5109842810772442",
        "transaction_id": "4200000001202611251234567890",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "amount": {"total": 1000, "payer_total": 1000, "currency": "CNY"},
    }
    body = notifier.envelope("TRANSACTION.SUCCESS", "支付成功", "transaction", resource)
    return gateway, body.encode(), notifier.signed_headers(body)


def inbound(body: bytes, headers: dict[str, str]) -> InboundNotify:
    return InboundNotify.from_request(
        method="POST", headers=headers, raw_query="", body=body, remote_addr="127.0.0.1"
    )


def test_the_unchanged_notify_is_accepted(
    parts: tuple[WechatPayV3Gateway, bytes, dict[str, str]],
) -> None:
    gateway, body, headers = parts
    verified = gateway.parse_notify(inbound(body, headers))
    assert (verified.out_trade_no, verified.amount_cents) == ("5109842810772442", 1000)
    assert verified.replay_nonce == headers["Wechatpay-Nonce"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_byte_of_the_body_changed_is_rejected(
    parts: tuple[WechatPayV3Gateway, bytes, dict[str, str]], data: st.DataObject
) -> None:
    gateway, body, headers = parts
    index = data.draw(st.integers(0, len(body) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]))
    changed = body[:index] + bytes([new]) + body[index + 1 :]
    with pytest.raises(NotifyRejected):
        gateway.parse_notify(inbound(changed, headers))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_signed_header_changed_is_rejected(
    parts: tuple[WechatPayV3Gateway, bytes, dict[str, str]], data: st.DataObject
) -> None:
    gateway, body, headers = parts
    name = data.draw(st.sampled_from(SIGNED_HEADERS))
    value = headers[name]
    index = data.draw(st.integers(0, len(value) - 1))
    char = data.draw(st.characters(min_codepoint=0x21, max_codepoint=0x7E))
    changed = value[:index] + char + value[index + 1 :]
    if changed == value:
        return
    if name == "Wechatpay-Signature":
        # base64 has padding bits: flipping those decodes to the same bytes
        import base64

        try:
            if base64.b64decode(changed, validate=True) == base64.b64decode(value):
                return
        except ValueError:
            pass
    with pytest.raises(NotifyRejected):
        gateway.parse_notify(inbound(body, {**headers, name: changed}))
