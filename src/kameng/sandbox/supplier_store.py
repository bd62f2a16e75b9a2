"""The supplier sandbox's memory: orders, how often each was placed, and the
behaviour set per product or per order, kept in one JSON file under var/ so a
restarted sandbox still knows every order (as a real supplier would).

Written apart from the shop's adapter (kameng.fulfilment.supply.signed_http):
it signs and checks with its own code, from the wire description alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BEHAVIOURS = (
    "succeed",  # done at once, answered success, callback sent
    "fail",  # failed at once, callback sent
    "succeed_after",  # processing, success after `seconds`, then the callback
    "timeout",  # takes the order, answers only after `seconds` (the client gives up first)
    "garbage",  # takes the order, answers an HTML error page with status 200
    "lose_callback",  # success, but the callback is never sent (a query finds it)
    "bad_callback",  # success; the callback is signed with a wrong key
    "maintenance",  # refuses: code 1001 and back_at = now + seconds
    "processing_long",  # processing for `seconds` (default 300), then success
    "price",  # refuses with code 1003 when its price (`price` yuan) is above max_price
    "no_balance",  # refuses with code 1002
)


def md5_sign(fields: dict[str, str], key: str) -> str:
    pairs = sorted((k, v) for k, v in fields.items() if k != "sign" and v)
    raw = "&".join(f"{k}={v}" for k, v in pairs) + "&key=" + key
    return hashlib.md5(raw.encode("utf-8")).hexdigest().upper()


@dataclass
class Behaviour:
    behaviour: str = "succeed"
    seconds: float = 0.0
    price: str | None = None  # yuan, for "price"


@dataclass
class SupplierOrder:
    merchant: str
    out_order_no: str
    order_no: str
    product: str
    type: str
    quantity: int
    account: str
    notify_url: str
    behaviour: str
    created_at: float
    finish_at: float  # when it becomes final
    final_status: str  # success | failed
    price: str
    cards: list[dict[str, str]] = field(default_factory=list)
    voucher: str = ""
    callbacks_sent: int = 0
    callback_acked: bool = False

    def status(self, now: float) -> str:
        return self.final_status if now >= self.finish_at else "processing"


class SupplierStore:
    def __init__(self, path: Path | None, merchants: dict[str, str]) -> None:
        self.path = path
        self.merchants = merchants
        self.orders: dict[str, SupplierOrder] = {}  # key: merchant/out_order_no
        self.placed: dict[str, int] = {}  # out_order_no -> times placed (any merchant)
        self.behaviours: dict[str, Behaviour] = {}  # "product:SKU" / "order:NO" -> behaviour
        self.balance: dict[str, int] = {m: 1_000_000 for m in merchants}  # cents
        self._load()

    @staticmethod
    def key(merchant: str, out_order_no: str) -> str:
        return f"{merchant}/{out_order_no}"

    def behaviour_for(self, product: str, out_order_no: str) -> Behaviour:
        return (
            self.behaviours.get(f"order:{out_order_no}")
            or self.behaviours.get(f"product:{product}")
            or Behaviour()
        )

    def new_order_no(self) -> str:
        return "S" + secrets.token_hex(8).upper()

    def snapshot(self, now: float) -> dict[str, Any]:
        return {
            "orders": [
                {
                    **asdict(o),
                    "status": o.status(now),
                    "times_placed": self.placed.get(o.out_order_no, 0),
                }
                for o in self.orders.values()
            ],
            "placed": dict(self.placed),
            "behaviours": {k: asdict(v) for k, v in self.behaviours.items()},
        }

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "orders": [asdict(o) for o in self.orders.values()],
            "placed": self.placed,
            "behaviours": {k: asdict(v) for k, v in self.behaviours.items()},
            "balance": self.balance,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        data = json.loads(self.path.read_text(encoding="utf-8"))
        for row in data.get("orders", []):
            order = SupplierOrder(**row)
            self.orders[self.key(order.merchant, order.out_order_no)] = order
        self.placed = {str(k): int(v) for k, v in data.get("placed", {}).items()}
        self.behaviours = {k: Behaviour(**v) for k, v in data.get("behaviours", {}).items()}
        self.balance.update({k: int(v) for k, v in data.get("balance", {}).items()})


def merchants_file(directory: Path) -> dict[str, str]:
    """The sandbox's merchants (id -> key), made once under ``directory``."""
    path = directory / "merchants.json"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data.items()}
    merchants = {"demo-a": secrets.token_hex(16), "demo-b": secrets.token_hex(16)}
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merchants, indent=1), encoding="utf-8")
    path.chmod(0o600)
    return merchants


# The demo's supplier product codes and what the sandbox plays for each
# (kameng.demo_supply links the demo products to them); seeded on first start.
DEMO_BEHAVIOURS = {
    "product:phone-slow": Behaviour("succeed_after", 20),
    "product:phone-fail": Behaviour("fail"),
    "product:phone-maint": Behaviour("maintenance", 120),
    "product:phone-lost": Behaviour("lose_callback"),
    "product:phone-timeout": Behaviour("timeout", 15),
    "product:phone-garbage": Behaviour("garbage"),
    "product:phone-badsign": Behaviour("bad_callback"),
    "product:phone-nobal": Behaviour("no_balance"),
    "product:phone-price": Behaviour("price", 0, "99.00"),
    "product:phone-long": Behaviour("processing_long", 300),
    "product:b-fail": Behaviour("fail"),
}
