"""Catalogue errors."""

from __future__ import annotations

from kameng.kit.errors import InvalidInput, NotFound
from kameng.kit.i18n import N_, Translator


class ProductNotFound(NotFound):
    code = "product_not_found"
    message = N_("No such product, or it is no longer on sale: %(sku)s")


class _FieldError(InvalidInput):
    """Names the field in the buyer's language (each product labels its fields in both)."""

    code = "field_error"

    def translated(self, t: Translator) -> str:
        zh, en = self.params["labels"]
        label = zh if t.locale.startswith("zh") else en
        return t(self.message, field=label, example=self.params.get("example", ""))


class BuyerFieldMissing(_FieldError):
    code = "field_missing"
    message = N_("Please fill in %(field)s (for example %(example)s)")


class BuyerFieldInvalid(_FieldError):
    code = "field_invalid"
    message = N_("%(field)s is not valid; it should look like %(example)s")


class BuyerFieldUnknown(InvalidInput):
    code = "field_unknown"
    message = N_("This product has no field named %(field)s")
