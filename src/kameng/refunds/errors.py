"""What can go wrong when asking for a refund, in words an operator understands."""

from __future__ import annotations

from kameng.kit.errors import DomainError, InvalidInput, NotFound
from kameng.kit.i18n import N_


class RefundOrderNotFound(NotFound):
    code = "refund_order_not_found"
    message = N_("No order with id %(order_id)s")


class NothingPaid(DomainError):
    status = 409
    code = "refund_nothing_paid"
    message = N_("Order %(order_no)s has no payment to refund")


class RefundAmountInvalid(InvalidInput):
    code = "refund_amount_invalid"
    message = N_("A refund amount must be more than ¥0.00")


class RefundExceedsPaid(DomainError):
    status = 409
    code = "refund_exceeds_paid"
    message = N_(
        "Cannot refund ¥%(amount)s for order %(order_no)s: "
        "only ¥%(refundable)s of the payment is still refundable"
    )


class IdempotencyKeyReused(DomainError):
    status = 409
    code = "refund_idempotency_key_reused"
    message = N_("The idempotency key %(key)s was already used for another refund")
