from __future__ import annotations

from kameng.fulfilment.strategies.base import FulfilmentStrategy
from kameng.fulfilment.strategies.card_key import CardKeyStrategy

STRATEGIES: dict[str, FulfilmentStrategy] = {s.kind: s for s in (CardKeyStrategy(),)}


def for_kind(kind: str) -> FulfilmentStrategy:
    return STRATEGIES[kind]
