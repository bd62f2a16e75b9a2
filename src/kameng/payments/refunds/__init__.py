"""Refunds at the gateway: the execution job and the payments-side entry points.

The decision (``request_refund``) lives in ``kameng.refunds`` below fulfilment;
``kameng.payments.refunds.service`` re-exports it for callers at this layer and
above (CLI, web, worker, automatic refunds of a second payment).
"""
