"""Refunds: money sent back to a buyer, one row per request, with a state machine.

A domain of its own below fulfilment (kit < config < db < models < cardkeys <
catalog < orders < refunds < fulfilment < payments ...), so that fulfilment
(an order that cannot be delivered in time) and payments (a second payment)
both request refunds through the same service. Requesting never touches the
network: the gateway call is the job ``JobName.EXECUTE_REFUND``, defined in
``kameng.payments.refunds.tasks``.
"""
