"""Payments: gateway adapters, notify verification, the payment ledger."""
