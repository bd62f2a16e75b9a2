"""Every word of the order vocabulary has buyer-facing words."""

from __future__ import annotations

from kameng.models.vocabulary import OrderEventType, OrderStatus
from kameng.orders.texts import EVENT_LABELS, STATUS_LABELS


def test_every_status_is_labelled() -> None:
    assert set(STATUS_LABELS) == set(OrderStatus)


def test_every_event_type_is_labelled() -> None:
    assert set(EVENT_LABELS) == set(OrderEventType)
