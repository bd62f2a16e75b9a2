from __future__ import annotations

from kameng.fulfilment.strategies.base import FulfilmentStrategy
from kameng.fulfilment.strategies.card_key import CardKeyStrategy
from kameng.fulfilment.strategies.manual import ManualStrategy
from kameng.fulfilment.strategies.supplied import TopupStrategy, UpstreamCardStrategy
from kameng.models.vocabulary import ProductKind

# One strategy per ProductKind (the products.kind CHECK is derived from the
# same enum); tests/fulfilment checks that no kind is left without one.
STRATEGIES: dict[ProductKind, FulfilmentStrategy] = {
    s.kind: s
    for s in (CardKeyStrategy(), TopupStrategy(), UpstreamCardStrategy(), ManualStrategy())
}


def for_kind(kind: ProductKind) -> FulfilmentStrategy:
    return STRATEGIES[kind]
