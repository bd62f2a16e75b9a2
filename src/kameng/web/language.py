"""Making a language choice stick, and the language switch on every page."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from starlette.types import Scope

from kameng.kit.i18n import LANGUAGE_NAMES, normalize_locale
from kameng.web.deps import LANG_COOKIE, translator_for

COOKIE_MAX_AGE = 365 * 86400


def template_context(request: Request) -> dict[str, Any]:
    """What every page template gets: the translator and the language switch."""
    t = translator_for(request)
    switch = []
    for code, name in LANGUAGE_NAMES.items():
        if code != t.locale:
            url = request.url.include_query_params(lang=code)
            switch.append((f"{url.path}?{url.query}", name))
    return {"t": t, "lang": t.locale, "language_switch": switch}


def language_cookie(scope: Scope) -> bytes | None:
    """A request with a valid ``?lang=`` gets the choice back as a cookie (this
    ``Set-Cookie`` value; None otherwise), so the next pages (and the order
    page's live refresh) keep the language."""
    query: bytes = scope.get("query_string", b"")
    if b"lang=" not in query:  # cheap test first: most requests carry no ?lang=
        return None
    asked = parse_qs(query.decode("latin-1")).get("lang", [])
    locale = normalize_locale(asked[0]) if asked else None
    if locale is None:
        return None
    return f"{LANG_COOKIE}={locale}; Max-Age={COOKIE_MAX_AGE}; Path=/; SameSite=Lax".encode()
