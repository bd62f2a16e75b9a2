"""What can go wrong importing card keys, as codes the CLI words for the operator."""

from __future__ import annotations

from typing import NamedTuple

from kameng.kit.errors import DomainError, NotFound
from kameng.kit.i18n import N_, Translator

MAX_FIELD_CHARS = 200

# Why a line is malformed: reason code -> msgid.
REASONS: dict[str, str] = {
    "missing_password": N_("missing password"),
    "missing_number": N_("missing card number"),
    "too_many_fields": N_("too many fields, expected “number password”"),
    "field_too_long": N_("field longer than %(max)s characters"),
    "control_character": N_("contains control or invisible characters"),
    "invalid_utf8": N_("not valid UTF-8 (the file may be GBK-encoded; save it as UTF-8)"),
}


class MalformedLine(NamedTuple):
    """One rejected line: 1-based physical line number, reason code, excerpt."""

    line_no: int
    reason: str  # a key of REASONS
    excerpt: str

    def message(self, t: Translator) -> str:
        return t(REASONS[self.reason], max=MAX_FIELD_CHARS)


class MalformedLineError(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownProduct(NotFound):
    code = "unknown_product"
    message = N_("No product with SKU %(sku)s")

    def __init__(self, sku: str) -> None:
        super().__init__(sku=sku)
        self.sku = sku


class ImportRejected(DomainError):
    """The file has malformed lines; nothing was imported.

    ``errors`` holds the first ``MAX_REPORTED_ERRORS`` in line order,
    ``total_errors`` counts them all.
    """

    code = "import_rejected"
    message = N_("%(total_errors)s malformed line(s), nothing imported")

    def __init__(self, product_sku: str, errors: list[MalformedLine], total_errors: int) -> None:
        super().__init__(total_errors=total_errors)
        self.product_sku = product_sku
        self.errors = errors
        self.total_errors = total_errors


class StockChangedDuringImport(DomainError):
    """Keys of the product were added by something else mid-import; rolled back."""

    status = 409
    code = "stock_changed_during_import"
    message = N_(
        "The product's stock changed during the import (expected to insert %(expected)s "
        "keys, inserted %(inserted)s); nothing was imported, retry"
    )


class StockNeedsRekey(DomainError):
    """Old encryption keys are configured and some stock is still under one of
    them: its fingerprints were made with that key, so duplicates against it
    would go unseen. ``kameng rekey-cards`` first."""

    status = 409
    code = "stock_needs_rekey"
    message = N_(
        "Some stock is still sealed under an old key; run `kameng rekey-cards` first. "
        "Nothing was imported"
    )
