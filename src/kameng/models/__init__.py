"""All ORM models: they define the schema (request and job paths use psycopg SQL)."""

from kameng.models.base import Base
from kameng.models.card_key import CardKey
from kameng.models.notify_nonce import NotifyNonce
from kameng.models.order import Order, OrderEvent
from kameng.models.payment import Payment, PaymentNotify
from kameng.models.product import Product

__all__ = [
    "Base",
    "CardKey",
    "NotifyNonce",
    "Order",
    "OrderEvent",
    "Payment",
    "PaymentNotify",
    "Product",
]
