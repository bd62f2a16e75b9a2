"""What the supply engine works with, built once per process (worker, web)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from kameng.fulfilment.supply.protocol import SupplierAdapter, SupplierEndpoint
from kameng.kit.crypto import CardKeyCipher

# Product id 0 never exists: supplier secrets and card keys never share associated data.
_SECRET_ROW = 0

# Seconds between asking a supplier about an order whose outcome is not final
# (× time_scale), by how many times it was asked already; the last one repeats.
BACKOFF = (2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass(frozen=True)
class SupplyConfig:
    adapter: SupplierAdapter
    cipher: CardKeyCipher
    public_url: str
    time_scale: float = 1.0  # <1 shortens every wait (tests, the chaos run)
    breaker_trip_after: int = 5  # failures in a row that open a supplier's breaker
    breaker_open_seconds: float = 60.0  # then one probe is let through
    refused_retry_seconds: float = 300.0  # a refusal without a time: ask again after this
    not_found_grace_seconds: float = 60.0  # "no such order" counts only after this
    slow_after_checks: int = 3  # "the supplier is slow" once asked this often

    def notify_url(self, code: str) -> str:
        return f"{self.public_url.rstrip('/')}/notify/supplier/{code}"

    def scaled(self, seconds: float) -> timedelta:
        return timedelta(seconds=seconds * self.time_scale)

    def backoff(self, checks: int) -> timedelta:
        return self.scaled(BACKOFF[min(checks, len(BACKOFF) - 1)])

    def seal_secret(self, code: str, secret: str) -> bytes:
        return self.cipher.seal(secret, "", product_id=_SECRET_ROW, fingerprint=_row(code))

    def open_secret(self, code: str, sealed: bytes) -> str:
        return self.cipher.open(sealed, product_id=_SECRET_ROW, fingerprint=_row(code))[0]

    def endpoint(
        self, code: str, base_url: str, merchant_id: str, sealed: bytes
    ) -> SupplierEndpoint:
        return SupplierEndpoint(
            code=code,
            base_url=base_url,
            merchant_id=merchant_id,
            secret=self.open_secret(code, sealed),
        )


def _row(code: str) -> bytes:
    return b"supplier-secret\x00" + code.encode()
