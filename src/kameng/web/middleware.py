"""The shop's one HTTP middleware (pure ASGI, one layer instead of four).

Per request, in this order (what the four separate layers did, outermost
first): a CSRF seed cookie for a browser without one (``web.csrf``), security
headers and ``no-store`` (``web.security``), the request's metric and log
event (``web.observability``), the language cookie for ``?lang=``
(``web.language``). One wrapped ``send`` instead of four saves a coroutine
call and a message copy per layer and per message.

The answer's headers come out as the layers left them: the app's own (less
Cache-Control except on static files), the language cookie, the security
headers, ``no-store`` except on static files, the CSRF cookie.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kameng.web.csrf import seed_cookie
from kameng.web.language import language_cookie
from kameng.web.observability import observe, start_request
from kameng.web.security import add_security_headers, is_static, kept_headers

# What errors.unexpected answers when the app raises before answering.
STATUS_IF_RAISED = 503


class ShopMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csrf = seed_cookie(scope)
        static = is_static(scope)
        language = language_cookie(scope)
        started = start_request()
        status = STATUS_IF_RAISED

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = kept_headers(message.get("headers", []), static)
                if language is not None:
                    headers.append((b"set-cookie", language))
                add_security_headers(headers, static)
                if csrf is not None:
                    headers.append((b"set-cookie", csrf))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            observe(scope, status, started)
