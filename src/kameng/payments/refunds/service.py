"""The refund entry point for payments and the layers above (CLI, web, worker).

Fulfilment sits below payments and imports ``kameng.refunds.service`` directly:
the same function.
"""

from __future__ import annotations

from kameng.refunds.repository import RefundRow
from kameng.refunds.service import request_refund

__all__ = ["RefundRow", "request_refund"]
