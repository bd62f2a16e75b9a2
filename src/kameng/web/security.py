"""Security headers on every answer; the order cookie is Secure over https.

Pages and answers are dynamic and may carry goods: nothing but static files
may be cached. The CSP allows scripts from this origin only (no inline
script); styles may be inline (attributes on a few elements).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Scope

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob: data:; "
    "object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
NO_STORE = (b"cache-control", b"no-store")


def is_static(scope: Scope) -> bool:
    return str(scope["path"]).startswith("/static/")


def kept_headers(headers: Iterable[tuple[bytes, bytes]], static: bool) -> list[tuple[bytes, bytes]]:
    """The app's own headers, less its Cache-Control unless the answer is a static file."""
    if static:
        return list(headers)
    return [(k, v) for k, v in headers if k.lower() != b"cache-control"]


def add_security_headers(headers: list[tuple[bytes, bytes]], static: bool) -> None:
    """The headers every answer carries; ``no-store`` on all but static files."""
    headers.extend(HEADERS)
    if not static:
        headers.append(NO_STORE)
