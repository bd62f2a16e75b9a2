"""The explanation engine: every status and event type mapped, every cause worded."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kameng.kit.i18n import translator
from kameng.models.vocabulary import Actor, OrderEventType, OrderStatus, ProductKind
from kameng.orders.explain import (
    CAUSE_TITLES,
    EVENT_RULES,
    GENERIC,
    STATUS_RULES,
    ActionKind,
    Cause,
    explain,
    rule_for,
)
from kameng.orders.repository import EventRow, OrderRow

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 20:00 Beijing time
ZH = translator("zh_CN")
EN = translator("en")

ORDER = OrderRow(
    id=1,
    order_no="1234567890123452",
    product_id=1,
    product_sku="DEMO-CARD-10",
    product_name="Card",
    product_kind=ProductKind.CARD_KEY,
    quantity=2,
    unit_price_cents=1000,
    amount_cents=2000,
    contact=None,
    query_password_hash=None,
    gateway="epay",
    status=OrderStatus.UNPAID,
    delivered_quantity=0,
    created_at=NOW - timedelta(minutes=5),
    expires_at=NOW + timedelta(minutes=10),
    paid_at=None,
    delivered_at=None,
)


def event(kind: OrderEventType, minutes_ago: int = 0) -> EventRow:
    return EventRow(kind, {}, Actor.SYSTEM, NOW - timedelta(minutes=minutes_ago))


def paid(status: OrderStatus, **changes: object) -> OrderRow:
    fields: dict[str, object] = {"paid_at": NOW - timedelta(seconds=10), **changes}
    return replace(ORDER, status=status, **fields)  # type: ignore[arg-type]


def test_every_status_and_event_type_is_mapped_explicitly() -> None:
    assert set(STATUS_RULES) == set(OrderStatus)
    assert set(EVENT_RULES) == set(OrderEventType)


def test_every_cause_has_a_title_in_both_languages() -> None:
    assert set(CAUSE_TITLES) == set(Cause)
    for cause in Cause:
        assert ZH(CAUSE_TITLES[cause]) != CAUSE_TITLES[cause]
        assert EN(CAUSE_TITLES[cause]) == CAUSE_TITLES[cause]


@pytest.mark.parametrize("status", list(OrderStatus))
def test_every_status_explained_in_both_languages(status: OrderStatus) -> None:
    order = replace(ORDER, status=status)
    zh = explain(order, [event(OrderEventType.CREATED)], ZH, now=NOW)
    en = explain(order, [event(OrderEventType.CREATED)], EN, now=NOW)
    assert zh.cause == en.cause == STATUS_RULES[status].cause
    assert zh.text and en.text and zh.text != en.text
    assert "%(" not in zh.text and "%(" not in en.text


def test_unpaid_not_paid_with_pay_link_and_deadline() -> None:
    why = explain(ORDER, [event(OrderEventType.CREATED)], ZH, now=NOW, pay_url="https://pay/x")
    assert why.cause == Cause.NOT_PAID
    assert why.expected_at == ORDER.expires_at
    assert "20.00" in why.text and "2026-11-30 20:10 北京时间" in why.text
    assert [(a.kind, a.url) for a in why.actions] == [(ActionKind.PAY, "https://pay/x")]
    assert why.actions[0].label == "去支付 ¥20.00"


def test_unpaid_without_a_gateway_offers_no_pay_action() -> None:
    why = explain(ORDER, [], EN, now=NOW)
    assert why.actions == ()


def test_expired_not_paid_offers_support() -> None:
    order = replace(ORDER, status=OrderStatus.EXPIRED)
    why = explain(order, [event(OrderEventType.EXPIRED)], EN, now=NOW, support_url="/o/1#support")
    assert why.cause == Cause.NOT_PAID and why.expected_at is None
    assert [(a.kind, a.url) for a in why.actions] == [(ActionKind.CONTACT_SUPPORT, "/o/1#support")]


def test_paid_processing_wait_until_a_minute_after_payment() -> None:
    order = paid(OrderStatus.PAID)
    why = explain(order, [event(OrderEventType.PAID)], EN, now=NOW)
    assert why.cause == Cause.PROCESSING
    assert why.expected_at == NOW + timedelta(seconds=50)
    assert [a.kind for a in why.actions] == [ActionKind.WAIT]
    assert why.actions[0].label == "Wait until 20:00 (Beijing time)"
    assert why.actions[0].until == why.expected_at


def test_paid_but_late_offers_support_instead_of_waiting() -> None:
    order = paid(OrderStatus.PAID)
    why = explain(order, [event(OrderEventType.PAID)], EN, now=NOW + timedelta(minutes=5))
    assert why.cause == Cause.PROCESSING
    assert "taking longer than usual" in why.text
    assert [a.kind for a in why.actions] == [ActionKind.CONTACT_SUPPORT]


def test_awaiting_stock_counts_and_offers_wait_and_support() -> None:
    order = paid(OrderStatus.AWAITING_STOCK, delivered_quantity=1)
    why = explain(order, [event(OrderEventType.PARTIALLY_DELIVERED)], ZH, now=NOW)
    assert why.cause == Cause.PROCESSING and why.expected_at is None
    assert "1/2" in why.text and "缺货" in why.text
    assert [a.kind for a in why.actions] == [ActionKind.WAIT, ActionKind.CONTACT_SUPPORT]


def test_delivered_is_final() -> None:
    order = paid(OrderStatus.DELIVERED, delivered_quantity=2)
    why = explain(order, [event(OrderEventType.DELIVERED)], EN, now=NOW)
    assert why.cause is None and why.actions == () and why.expected_at is None
    assert "no courier tracking number" in why.text


def test_second_payment_is_the_buyers_mistake_until_refunded() -> None:
    order = paid(OrderStatus.DELIVERED, delivered_quantity=2)
    timeline = [event(OrderEventType.DELIVERED, 2), event(OrderEventType.SECOND_PAYMENT)]
    why = explain(order, timeline, ZH, now=NOW)
    assert why.cause == Cause.BUYER_MISTAKE and "重复支付" in why.text
    refunded = [*timeline, event(OrderEventType.REFUND_SUCCEEDED)]
    assert explain(order, refunded, ZH, now=NOW).cause is None


@pytest.mark.parametrize(
    ("kind", "cause", "support"),
    [
        (OrderEventType.REFUND_REQUESTED, Cause.PROCESSING, False),
        (OrderEventType.REFUND_SUBMITTED, Cause.PROCESSING, False),
        (OrderEventType.REFUND_FAILED, Cause.UPSTREAM, False),
        (OrderEventType.REFUND_GIVEN_UP, Cause.UPSTREAM, True),
    ],
)
def test_refund_events_speak_over_the_status(
    kind: OrderEventType, cause: Cause, support: bool
) -> None:
    order = paid(OrderStatus.DELIVERED, delivered_quantity=2)
    why = explain(order, [event(OrderEventType.DELIVERED, 1), event(kind)], EN, now=NOW)
    assert why.cause == cause
    assert (ActionKind.CONTACT_SUPPORT in [a.kind for a in why.actions]) is support


def test_unknown_future_states_fall_back_to_generic_processing() -> None:
    assert rule_for("shipping", None) is GENERIC
    assert rule_for("delivered", "courier_lost") is GENERIC
    order = replace(ORDER, status="shipping")  # type: ignore[arg-type]
    why = explain(order, [], ZH, now=NOW)
    assert why.cause == Cause.PROCESSING
    assert why.text == "订单处理中，本页会自动更新。"
    assert [a.kind for a in why.actions] == [ActionKind.WAIT, ActionKind.CONTACT_SUPPORT]


def test_supply_states_have_their_own_words() -> None:
    assert rule_for("fulfilling", None) is STATUS_RULES[OrderStatus.FULFILLING]
    assert rule_for("fulfilling", "supplier_slow").cause == Cause.UPSTREAM
    topped_up = replace(
        paid(OrderStatus.DELIVERED, delivered_quantity=2), product_kind=ProductKind.TOPUP
    )
    why = explain(topped_up, [event(OrderEventType.TOPPED_UP)], EN, now=NOW)
    assert why.cause is None and why.text.startswith("Topped up.")


def test_risk_hold_and_every_cause_reachable_or_titled() -> None:
    produced = {r.cause for r in [*STATUS_RULES.values(), *EVENT_RULES.values()] if r}
    # Risk holds arrive with the risk-control work; the cause is worded already.
    assert produced - {None} | {Cause.RISK_HOLD} == set(Cause)


def test_wait_until_another_day_shows_the_date() -> None:
    order = paid(OrderStatus.PAID, paid_at=NOW + timedelta(hours=6))
    why = explain(order, [], EN, now=NOW)
    assert why.actions[0].label == "Wait until 2026-12-01 02:01 (Beijing time)"
