"""Pydantic's validation errors in the buyer's words (its own texts are English only).

Each error type the buyer API and forms can meet has a msgid; anything else
falls back to "invalid value". The field names are the API's, untranslated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kameng.kit.errors import InvalidInput
from kameng.kit.i18n import N_, Translator

_WHOLE_NUMBER = N_("%(field)s: a whole number is needed")
_OBJECT = N_("the request body must be a JSON object")
_BY_TYPE: dict[str, str] = {
    "missing": N_("%(field)s: required"),
    "string_too_short": N_("%(field)s: at least %(min_length)s characters"),
    "string_too_long": N_("%(field)s: at most %(max_length)s characters"),
    # Constraints checked after a validator (Text fields) report as too_short/too_long.
    "too_short": N_("%(field)s: at least %(min_length)s characters"),
    "too_long": N_("%(field)s: at most %(max_length)s characters"),
    "greater_than_equal": N_("%(field)s: at least %(ge)s"),
    "less_than_equal": N_("%(field)s: at most %(le)s"),
    "int_parsing": _WHOLE_NUMBER,
    "int_type": _WHOLE_NUMBER,
    "int_from_float": _WHOLE_NUMBER,
    "string_type": N_("%(field)s: text is needed"),
    "extra_forbidden": N_("%(field)s: unknown field"),
    "json_invalid": N_("the request body is not valid JSON"),
    "model_attributes_type": _OBJECT,
    "model_type": _OBJECT,
    "dict_type": _OBJECT,
    "control_characters": N_("%(field)s: contains control characters"),
}
_OTHER = N_("%(field)s: invalid value")
_SKIPPED_LOCATIONS = ("body", "query", "path", "form")
SHOWN = 5


def describe(
    errors: Sequence[Mapping[str, Any]], t: Translator, labels: Mapping[str, str] | None = None
) -> str:
    """ "Invalid input: quantity: at most 1000; contact: …" in the buyer's language.

    ``labels`` (field name -> msgid) names a form's fields as the form shows them;
    without it the API's field names are used."""
    parts = []
    for error in errors[:SHOWN]:
        where = [str(p) for p in error.get("loc", ()) if p not in _SKIPPED_LOCATIONS]
        field = ".".join(where) or t(N_("request"))
        if labels and field in labels:
            field = t(labels[field])
        context = {k: v for k, v in (error.get("ctx") or {}).items() if k != "field"}
        parts.append(t(_BY_TYPE.get(error.get("type", ""), _OTHER), **context, field=field))
    return t(InvalidInput.message, detail="; ".join(parts))
