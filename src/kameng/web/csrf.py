"""CSRF tokens for every form.

Each browser gets a random cookie (``kameng_csrf``, HttpOnly, SameSite=Lax);
every form carries ``csrf`` = HMAC(shop secret, that cookie). A POST whose
field does not match its cookie is refused (403) and changes nothing. Another
site can make a browser send the cookie, but cannot read it nor compute the
field.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import Request
from starlette.types import Scope

from kameng.kit.errors import DomainError
from kameng.kit.i18n import N_

COOKIE = "kameng_csrf"
FIELD = "csrf"
NO_FORMS = ("/api/", "/notify/", "/static/", "/metrics")  # answers that never show a form


class CsrfRejected(DomainError):
    status = 403
    code = "csrf_rejected"
    message = N_(
        "This form has expired or did not come from this shop. Please reload the page and "
        "submit it again"
    )


def _token(secret: bytes, seed: str) -> str:
    return hmac.new(secret, b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()[:40]


def _seed(request: Request) -> str:
    return str(request.scope.get("kameng_csrf_seed") or request.cookies.get(COOKIE) or "")


def token(request: Request) -> str:
    """The value this browser's forms carry."""
    return _token(request.app.state.runtime.token_secret, _seed(request))


def check(request: Request, given: str) -> None:
    seed = request.cookies.get(COOKIE) or ""
    expected = _token(request.app.state.runtime.token_secret, seed)
    if not seed or not given or not hmac.compare_digest(expected, given):
        raise CsrfRejected()


def template_context(request: Request) -> dict[str, Any]:
    return {"csrf_token": token(request)}


def seed_cookie(scope: Scope) -> bytes | None:
    """The ``Set-Cookie`` value giving a browser without the cookie one, on an
    answer that may show a form (None otherwise). The seed is put in the scope
    so this very answer's forms carry its token (``kameng.web.middleware``)."""
    if scope["path"].startswith(NO_FORMS) or f"{COOKIE}=".encode() in _cookie_header(scope):
        return None
    seed = secrets.token_urlsafe(24)
    scope["kameng_csrf_seed"] = seed
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    return f"{COOKIE}={seed}; Path=/; HttpOnly; SameSite=Lax{secure}".encode()


def _cookie_header(scope: Scope) -> bytes:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            return bytes(value)
    return b""
