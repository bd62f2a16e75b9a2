"""The schema (SQLAlchemy models, migrated by Alembic) and its vocabulary. The
request and job paths do not use the ORM: repositories send SQL through psycopg."""

from kameng.models.base import Base
from kameng.models.card_key import CardKey
from kameng.models.notice import Notice
from kameng.models.notify_nonce import NotifyNonce
from kameng.models.order import Order, OrderEvent
from kameng.models.payment import Payment, PaymentNotify
from kameng.models.payment_channel import PaymentChannel, PaymentChannelsVersion
from kameng.models.product import Product
from kameng.models.rate_limit import RateLimit
from kameng.models.receipt import ReceiptMail
from kameng.models.reconciliation import ReconciliationFinding, ReconciliationRun
from kameng.models.refund import Refund
from kameng.models.risk import RiskRules
from kameng.models.supply import (
    ManualDelivery,
    OrderInput,
    Supplier,
    SupplierCallback,
    SupplierProduct,
    SupplyAttempt,
)
from kameng.models.ticket import Ticket, TicketMessage

__all__ = [
    "Base",
    "CardKey",
    "ManualDelivery",
    "Notice",
    "NotifyNonce",
    "Order",
    "OrderEvent",
    "OrderInput",
    "Payment",
    "PaymentChannel",
    "PaymentChannelsVersion",
    "PaymentNotify",
    "Product",
    "RateLimit",
    "ReceiptMail",
    "ReconciliationFinding",
    "ReconciliationRun",
    "Refund",
    "RiskRules",
    "Supplier",
    "SupplierCallback",
    "SupplierProduct",
    "SupplyAttempt",
    "Ticket",
    "TicketMessage",
]
