"""Upstream supply: top-ups and upstream cards sent to suppliers, never twice.

``protocol`` says what a supplier adapter is; ``signed_http`` is the generic
adapter (MD5-signed form posts, the common shape of Chinese supplier APIs);
``states`` is the attempt state machine; ``engine`` decides what happens next
for an order and records every answer; ``tasks`` runs it on the worker.
"""
