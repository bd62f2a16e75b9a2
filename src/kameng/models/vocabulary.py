"""The words stored in the database, each defined once.

Every column that holds one of a fixed set of words has a ``StrEnum`` here;
the models derive their CHECK constraints from it (``known_values``), the row
classes carry it as the field type, and registries (fulfilment strategies by
kind) are keyed by it. A new word is a new member here plus an Alembic
migration replacing the CHECK (``tests/test_migrations.py`` fails until the
database agrees with these enums).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint


class OrderStatus(StrEnum):
    UNPAID = "unpaid"  # 待支付: number issued, waiting for the buyer to pay
    EXPIRED = "expired"  # 已过期: not paid in time; a late payment still revives it
    PAID = "paid"  # 已支付: money in, goods being allocated (inside the same transaction)
    AWAITING_STOCK = "awaiting_stock"  # 已支付·待补货: paid, not enough keys yet
    DELIVERED = "delivered"  # 已发货: every key bought is delivered
    FULFILLING = "fulfilling"  # 出单中: paid, with an upstream supplier (top-up, upstream card)
    AWAITING_OPERATOR = "awaiting_operator"  # 待人工: paid, an operator fulfils it by hand
    FAILED = "failed"  # 失败·退款: no supplier could fulfil it; the payment is refunded
    UNDER_REVIEW = "under_review"  # 审核中: paid, held by a risk rule until an operator decides


class OrderEventType(StrEnum):
    """What a timeline entry (``order_events.type``) records."""

    CREATED = "created"
    PAID = "paid"
    EXPIRED = "expired"
    AWAITING_STOCK = "awaiting_stock"
    PARTIALLY_DELIVERED = "partially_delivered"
    DELIVERED = "delivered"
    SECOND_PAYMENT = "second_payment"  # money paid twice for one order: to refund
    REFUND_REQUESTED = "refund_requested"  # a refund row was created (kameng.refunds)
    REFUND_SUBMITTED = "refund_submitted"  # sent to the gateway, waiting for its word
    REFUND_SUCCEEDED = "refund_succeeded"  # the gateway says the money went back
    REFUND_FAILED = "refund_failed"  # the gateway refused or failed; retried with back-off
    REFUND_GIVEN_UP = "refund_given_up"  # retries exhausted: an operator must act
    FULFILLING = "fulfilling"  # handed to the supply engine (top-up, upstream card)
    SENT_TO_SUPPLIER = "sent_to_supplier"
    SUPPLIER_SLOW = "supplier_slow"  # outcome unknown: asking the supplier until it is final
    SUPPLIER_SWITCHED = "supplier_switched"  # one supplier failed finally, the next one tried
    SUPPLIER_WAITING = "supplier_waiting"  # no supplier can take it now (maintenance, …)
    TOPPED_UP = "topped_up"  # the supplier confirmed the top-up
    FULFILMENT_FAILED = "fulfilment_failed"  # every supplier failed: refund
    ESCALATED = "escalated"  # past its deadline: the operator is alerted
    AWAITING_OPERATOR = "awaiting_operator"
    MANUAL_DELIVERED = "manual_delivered"
    TICKET_OPENED = "ticket_opened"  # the buyer asked support (kameng.tickets)
    TICKET_REPLIED = "ticket_replied"  # support answered; params carry the reply
    TICKET_CLOSED = "ticket_closed"
    TICKET_FOLLOWED_UP = (
        "ticket_followed_up"  # the buyer wrote again (the words stay on the ticket)
    )
    RISK_HELD = "risk_held"  # paid, held for review by a risk rule (kameng.fulfilment.review)
    REVIEW_APPROVED = "review_approved"  # an operator let it through: fulfilled now
    REVIEW_REJECTED = "review_rejected"  # an operator refused it: refunded


class Actor(StrEnum):
    """Who caused a timeline entry (``order_events.actor``)."""

    BUYER = "buyer"
    SYSTEM = "system"  # the shop's own jobs and rules
    GATEWAY = "gateway"  # the payment platform (a notify, or its answer when asked)
    OPERATOR = "operator"  # a person running the shop (CLI, console)
    SUPPLIER = "supplier"  # an upstream supplier (its callback, or its answer when asked)


class ProductKind(StrEnum):
    """How a product is fulfilled; each kind has one fulfilment strategy."""

    CARD_KEY = "card_key"  # 卡密 from the shop's own stock
    TOPUP = "topup"  # 直充: the buyer's account is topped up by an upstream supplier
    UPSTREAM_CARD = "upstream_card"  # 代发卡: a card bought from an upstream supplier
    MANUAL = "manual"  # 人工: an operator fulfils it by hand


class AttemptStatus(StrEnum):
    """One try at one supplier (``supply_attempts.status``); kameng.fulfilment.supply.states."""

    CREATED = "created"  # chosen, not sent yet: safe to send
    SENT = "sent"  # may have reached the supplier: from now on only asked, never re-sent elsewhere
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # final: the supplier refused or failed it
    UNKNOWN = "unknown"  # no usable answer (timeout, garbage): asked until final


class SupplierCallbackVerdict(StrEnum):
    """What became of a supplier's callback (``supplier_callbacks.verdict``)."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # the attempt was already final with that outcome
    CONFLICT = "conflict"  # the attempt is final with another outcome: kept for the operator
    BAD_SIGNATURE = "bad_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    REPLAYED_NONCE = "replayed_nonce"
    UNKNOWN_SUPPLIER = "unknown_supplier"
    UNKNOWN_ORDER = "unknown_order"
    MALFORMED = "malformed"


class TicketStatus(StrEnum):
    """Where a support ticket is (``tickets.status``); kameng.tickets.states."""

    OPEN = "open"  # waiting for support
    ANSWERED = "answered"  # support replied; the buyer may write again
    CLOSED = "closed"


class TicketAuthor(StrEnum):
    """Who wrote a ticket message (``ticket_messages.author``)."""

    BUYER = "buyer"
    OPERATOR = "operator"


class NoticeScope(StrEnum):
    """What an announcement (``notices.scope``) touches; ``notices.target`` names it."""

    ALL = "all"  # every order and the storefront
    PRODUCT = "product"  # orders of one product (target: its SKU)
    SUPPLIER = "supplier"  # orders with an attempt at one supplier (target: its code)
    CHANNEL = "channel"  # orders paid through one payment channel (target: its name)


class ChannelKind(StrEnum):
    """The protocol a payment channel speaks (``payment_channels.kind``)."""

    EPAY_V1 = "epay_v1"  # 易支付 V1 (MD5)
    EPAY_V2 = "epay_v2"  # 易支付 V2 (RSA)
    ALIPAY = "alipay"  # 支付宝 open platform (RSA2)
    WECHATPAY_V3 = "wechatpay_v3"  # 微信支付 API v3


class CardKeyStatus(StrEnum):
    AVAILABLE = "available"
    SOLD = "sold"


class RefundState(StrEnum):
    """Where a refund is (``refunds.state``); transitions in kameng.refunds.states."""

    REQUESTED = "requested"  # recorded, the execution job deferred; no network yet
    SUBMITTED = "submitted"  # the gateway accepted the request; its result is awaited
    SUCCEEDED = "succeeded"  # the money went back to the buyer
    FAILED = "failed"  # the gateway refused or could not be asked; retried at next_attempt_at
    GIVEN_UP = "given_up"  # retries exhausted or cancelled: no longer counts against the cap


class ReceiptKind(StrEnum):
    """Which receipt an e-mail is (kameng.receipts); one per timeline event at most."""

    CREATED = "created"  # the order number and its link, at creation
    DELIVERED = "delivered"  # the goods are ready: a link to them, never the goods
    REFUNDED = "refunded"  # money went back


class MailState(StrEnum):
    """An e-mail row is claimed before the SMTP call and marked after it."""

    SENDING = "sending"  # claimed; a crash here leaves it unsent rather than sent twice
    SENT = "sent"
    FAILED = "failed"  # the server refused or could not be reached; the job retries


class FindingKind(StrEnum):
    """What a reconciliation (对账) run found (``reconciliation_findings.kind``)."""

    REPAIRED = "repaired"  # paid at the gateway, unknown here: recorded through the notify path
    NOT_REPAIRED = "not_repaired"  # paid at the gateway, unknown here, refused by our checks
    AMOUNT_MISMATCH = "amount_mismatch"  # both know the payment, not the same amount
    MISSING_AT_GATEWAY = "missing_at_gateway"  # paid here, the gateway's bill lacks it
    REFUND_UNKNOWN_HERE = "refund_unknown_here"  # refunded at the gateway, no such refund here
    REFUND_AMOUNT_MISMATCH = "refund_amount_mismatch"  # both know it, not the same amount
    REFUND_UNSETTLED_HERE = "refund_unsettled_here"  # refunded there, not succeeded here
    REFUND_MISSING_AT_GATEWAY = "refund_missing_at_gateway"  # succeeded here, not in the bill


class NotifyVerdict(StrEnum):
    """What became of a payment notify (``payment_notifies.verdict``)."""

    ACCEPTED = "accepted"
    ACCEPTED_LATE = "accepted_late"  # paid after expiry: honoured, order revived
    DUPLICATE = "duplicate"
    SECOND_PAYMENT = "second_payment"  # another payment for a paid order: kept for refund
    BAD_SIGNATURE = "bad_signature"
    WRONG_MERCHANT = "wrong_merchant"
    STALE_TIMESTAMP = "stale_timestamp"  # signed too long ago (or ahead): possibly replayed
    REPLAYED_NONCE = "replayed_nonce"  # this signed notify was seen before
    MALFORMED = "malformed"
    NOT_PAID = "not_paid"
    UNKNOWN_GATEWAY = "unknown_gateway"
    UNKNOWN_ORDER = "unknown_order"
    GATEWAY_MISMATCH = "gateway_mismatch"
    AMOUNT_MISMATCH = "amount_mismatch"
    TRADE_NO_REUSED = "trade_no_reused"
    ERROR = "error"  # we failed; the gateway is told to retry

    @property
    def acknowledged(self) -> bool:
        """The gateway must stop re-sending: understood, and its money is on record."""
        return self in _ACKNOWLEDGED


_ACKNOWLEDGED = frozenset(
    {
        NotifyVerdict.ACCEPTED,
        NotifyVerdict.ACCEPTED_LATE,
        NotifyVerdict.DUPLICATE,
        NotifyVerdict.SECOND_PAYMENT,
    }
)


def sql_values(*values: StrEnum | type[StrEnum]) -> str:
    """``'a', 'b'``: SQL literals of the given members (or of every member of an
    enum, in definition order), for SQL texts built once at import."""
    members = [m for v in values for m in (v if isinstance(v, type) else [v])]
    return ", ".join(f"'{m.value}'" for m in members)


def known_values(column: str, values: type[StrEnum], *, name: str) -> CheckConstraint:
    """CHECK (column IN (every value of the enum))."""
    return CheckConstraint(f"{column} IN ({sql_values(values)})", name=name)
