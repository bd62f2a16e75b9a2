"""The inbound-notify value every adapter reads: fields, headers, raw body."""

from __future__ import annotations

from kameng.payments.gateways.base import InboundNotify, NotifyAck, text_ack


def test_form_and_query_fields_are_read_and_headers_lower_cased() -> None:
    notify = InboundNotify.from_request(
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Wechatpay-Nonce": "n1"},
        raw_query="a=1",
        body=b"b=%E4%BD%A0&c=",
        remote_addr="10.0.0.1",
    )
    assert notify.params == {"a": "1", "b": "你", "c": ""}
    assert notify.header("wechatpay-nonce") == notify.header("Wechatpay-Nonce") == "n1"
    assert notify.text == "b=%E4%BD%A0&c="


def test_a_json_body_is_not_taken_for_form_fields() -> None:
    notify = InboundNotify.from_request(
        method="POST",
        headers={"content-type": "application/json"},
        raw_query="",
        body=b'{"id":"EV-1"}',
        remote_addr=None,
    )
    assert notify.params == {}
    assert notify.body == b'{"id":"EV-1"}'


def test_a_field_sent_twice_leaves_no_fields() -> None:
    notify = InboundNotify(method="GET", raw_query="a=1&a=2", query=(("a", "1"), ("a", "2")))
    assert notify.params == {}


def test_text_ack() -> None:
    assert text_ack(True) == NotifyAck(200, b"success")
    assert text_ack(False) == NotifyAck(200, b"fail")
