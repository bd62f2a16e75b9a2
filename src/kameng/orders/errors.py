"""What can go wrong with an order, in words the buyer understands."""

from __future__ import annotations

from kameng.kit.errors import DomainError, InvalidInput, NotFound
from kameng.kit.i18n import N_


class OrderNotFound(NotFound):
    code = "order_not_found"
    message = N_("No order %(order_no)s. Please check the order number (16 digits).")


class OrderNumberInvalid(InvalidInput):
    code = "order_number_invalid"
    message = N_(
        "“%(value)s” is not a valid order number: order numbers have 16 digits, "
        "the last being a check digit."
    )


class QuantityInvalid(InvalidInput):
    code = "quantity_invalid"
    message = N_("Quantity must be between 1 and %(max)s")


class GatewayUnknown(InvalidInput):
    code = "gateway_unknown"
    message = N_("Unsupported payment method: %(gateway)s")


class ContactTooLong(InvalidInput):
    code = "contact_too_long"
    message = N_("The contact may have at most %(max)s characters")


class QueryPasswordLength(InvalidInput):
    code = "query_password_length"
    message = N_("The query password must have %(min)s to %(max)s characters")


class WrongPassword(DomainError):
    status = 403
    code = "wrong_password"
    message = N_("The query password is wrong")


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_attempts"
    message = N_(
        "Too many wrong query passwords; try again in %(minutes)s minutes, "
        "or open the order in the browser that placed it"
    )


class IllegalTransition(DomainError):
    status = 409
    code = "illegal_transition"
    message = N_("The order changed meanwhile; reload and try again")
