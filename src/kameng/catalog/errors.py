"""Catalogue errors."""

from __future__ import annotations

from kameng.kit.errors import NotFound
from kameng.kit.i18n import N_


class ProductNotFound(NotFound):
    code = "product_not_found"
    message = N_("No such product, or it is no longer on sale: %(sku)s")
