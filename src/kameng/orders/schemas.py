"""Buyer-facing shapes (JSON API and pages share them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from kameng.kit.i18n import Translator
from kameng.kit.money import format_yuan
from kameng.kit.timefmt import DEFAULT_ZONE
from kameng.notices.repository import NoticeRow
from kameng.orders.explain import Explanation, explain
from kameng.orders.repository import OrderRow
from kameng.orders.service import OrderDetail
from kameng.orders.texts import event_label, status_label


def _printable(value: str | None) -> str | None:
    """Control characters (NUL included) belong in no SKU, contact or password."""
    if value is not None and not value.isprintable():
        # A type of its own, so the web layer words it in the buyer's language.
        raise PydanticCustomError("control_characters", "contains control characters")
    return value


Text = Annotated[str, AfterValidator(_printable)]


class CreateOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: Text = Field(min_length=1, max_length=64, description="product SKU")
    quantity: int = Field(default=1, ge=1, le=1000)
    contact: Text | None = Field(default=None, max_length=120, description="e-mail or phone")
    query_password: Text | None = Field(default=None, min_length=4, max_length=64)
    channel: Text | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="payment channel name (GET /api/shop/payment-channels); "
        "may be left out when exactly one channel is enabled",
    )
    gateway: Text | None = Field(
        default=None, min_length=1, max_length=32, description="old name of `channel`"
    )
    fields: dict[str, Text] | None = Field(
        default=None,
        max_length=20,
        description='what the product asks for (its `fields`), e.g. {"phone": "13800138000"}',
    )


class CreatedOrderOut(BaseModel):
    order_no: str
    status: str
    amount: str = Field(description="yuan, two decimals")
    amount_cents: int
    pay_url: str
    token: str = Field(description="proves this client placed the order; shows the goods")
    order_url: str
    expires_at: datetime


class TimelineEntry(BaseModel):
    type: str
    label: str
    actor: str
    at: datetime


class CardKeyOut(BaseModel):
    kind: Literal["card_key", "topup_receipt", "text"] = Field(
        description="card_key: a card number and password (own stock or an upstream card); "
        "topup_receipt: the supplier's receipt number of a direct top-up (no password); "
        "text: what the shop's staff delivered by hand (no password)"
    )
    number: str
    password: str


class OrderSummary(BaseModel):
    order_no: str
    status: str
    status_label: str
    product: str
    quantity: int
    amount: str
    created_at: datetime


class ActionOut(BaseModel):
    kind: Literal["pay", "wait", "contact_support"]
    label: str
    url: str | None = None
    until: datetime | None = None


class NoticeOut(BaseModel):
    text: str = Field(description="the shop's announcement, in the buyer's language")
    ends_at: datetime = Field(description="until when it applies")


class ExplanationOut(BaseModel):
    """Why the order is where it is (kameng.orders.explain)."""

    cause: Literal["not_paid", "processing", "upstream", "risk_hold", "buyer_mistake"] | None = (
        Field(description="the article's five causes; null when the order is final")
    )
    title: str
    text: str
    expected_at: datetime | None = Field(description="when the next step is expected")
    actions: list[ActionOut]
    notices: list[NoticeOut] = Field(
        default=[], description="active announcements that touch this order"
    )


class OrderOut(OrderSummary):
    explanation: ExplanationOut
    delivered_quantity: int
    expires_at: datetime
    paid_at: datetime | None
    delivered_at: datetime | None
    timeline: list[TimelineEntry]
    goods: list[CardKeyOut] | None = Field(
        description="card keys; null unless the query password or the ordering browser's token "
        "was given"
    )
    goods_hidden: bool


class BuyerFieldOut(BaseModel):
    name: str
    label_zh: str
    label_en: str
    pattern: str = Field(description="the whole value must match this regular expression")
    example: str


class ProductOut(BaseModel):
    sku: str
    name: str
    kind: str
    price: str
    price_cents: int
    max_quantity: int
    in_stock: int
    stock_capped: bool = Field(description="true when in_stock is a lower bound")
    description: str
    fields: list[BuyerFieldOut] = Field(
        default=[], description="what the buyer fills in (a top-up's account); send as `fields`"
    )


class LookupOut(BaseModel):
    kind: Literal[
        "order",
        "trade_no",
        "suggestions",
        "card_key",
        "tracking_no",
        "ticket",
        "not_found",
        "invalid",
    ]
    normalized: str
    message: str
    order: OrderSummary | None = Field(
        default=None,
        description="the order, when the identifier proves it (order number; trade number "
        "with the query password, the contact or the ordering browser)",
    )
    masked_order_no: str | None = Field(
        default=None, description="trade number alone: the order number, masked"
    )
    status: str | None = Field(default=None, description="trade number alone: the order state")
    status_label: str | None = None
    suggestions: list[str] = Field(
        default=[], description="candidate order numbers for a mistyped one (numbers only)"
    )
    courier: str | None = Field(default=None, description="tracking_no: the courier it fits")
    card_order_no: str | None = Field(
        default=None, description="card_key: the order holding it (its owner only)"
    )
    explanation: ExplanationOut | None = Field(
        default=None, description="with the order: why it is where it is"
    )
    ticket_no: str | None = Field(default=None, description="ticket: the ticket's number")
    ticket_status: Literal["open", "answered", "closed"] | None = Field(
        default=None, description="ticket: where the ticket is"
    )
    ticket_url: str | None = Field(default=None, description="ticket: its page")


class LookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Text = Field(min_length=1, max_length=500, description="whatever the buyer holds")
    password: Text | None = Field(default=None, max_length=64, description="query password")
    contact: Text | None = Field(default=None, max_length=120, description="e-mail or phone")


class ContactLookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact: Text = Field(min_length=3, max_length=120, description="e-mail or phone")
    password: Text = Field(min_length=1, max_length=64, description="query password")
    page: int = Field(default=1, ge=1, le=100)


class ContactOrdersOut(BaseModel):
    orders: list[OrderSummary]
    page: int
    more: bool = Field(description="a next page exists")


def summary(order: OrderRow, t: Translator) -> OrderSummary:
    return OrderSummary(
        order_no=order.order_no,
        status=order.status,
        status_label=status_label(order.status, t),
        product=order.product_name,
        quantity=order.quantity,
        amount=format_yuan(order.amount_cents),
        created_at=order.created_at,
    )


def explanation_out(explanation: Explanation) -> ExplanationOut:
    return ExplanationOut(
        cause=explanation.cause.value if explanation.cause else None,
        title=explanation.title,
        text=explanation.text,
        expected_at=explanation.expected_at,
        actions=[
            ActionOut(kind=a.kind.value, label=a.label, url=a.url, until=a.until)
            for a in explanation.actions
        ],
        notices=[NoticeOut(text=n.text, ends_at=n.ends_at) for n in explanation.notices],
    )


def order_out(
    detail: OrderDetail,
    t: Translator,
    zone_name: str = DEFAULT_ZONE,
    *,
    now: datetime,
    pay_url: str | None = None,
    support_url: str | None = None,
    notices: Sequence[NoticeRow] = (),
) -> OrderOut:
    order = detail.order
    base = summary(order, t)
    why = explain(
        order,
        detail.timeline,
        t,
        now=now,
        pay_url=pay_url,
        support_url=support_url,
        zone_name=zone_name,
        notices=notices,
    )
    return OrderOut(
        **base.model_dump(),
        explanation=explanation_out(why),
        delivered_quantity=order.delivered_quantity,
        expires_at=order.expires_at,
        paid_at=order.paid_at,
        delivered_at=order.delivered_at,
        timeline=[
            TimelineEntry(
                type=e.type,
                label=event_label(e.type, e.params, t),
                actor=e.actor,
                at=e.created_at,
            )
            for e in detail.timeline
        ],
        goods=None
        if detail.goods is None
        else [
            CardKeyOut(kind=g.kind.value, number=g.number, password=g.password)
            for g in detail.goods
        ],
        goods_hidden=detail.goods is None,
    )
