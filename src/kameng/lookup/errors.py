"""What can go wrong with a lookup, in words the buyer understands."""

from __future__ import annotations

from kameng.kit.errors import DomainError
from kameng.kit.i18n import N_


class TooManyLookups(DomainError):
    status = 429
    code = "too_many_lookups"
    message = N_(
        "Too many lookups from your network; please try again in %(minutes)s minutes. "
        "Your orders are safe."
    )


class TooManyProofs(DomainError):
    status = 429
    code = "too_many_proofs"
    message = N_(
        "Too many wrong query passwords or contacts for this number; try again in "
        "%(minutes)s minutes, or open the order in the browser that placed it"
    )


class CaptchaRequired(DomainError):
    status = 429
    code = "captcha_required"
    message = N_(
        "Several numbers were not found. To go on, let your browser solve the quick check "
        "(no image to read), then search again"
    )
