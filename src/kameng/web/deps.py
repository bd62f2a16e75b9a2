"""Request helpers: runtime, language, order-ownership tokens."""

from __future__ import annotations

from fastapi import Request

from kameng.kit.i18n import Translator, translator
from kameng.kit.tokens import check_order_token, order_token
from kameng.web.runtime import Runtime

COOKIE = "kameng_orders"
MAX_REMEMBERED = 20


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def language(request: Request) -> str:
    """?lang=, then cookie, then Accept-Language; Chinese unless English is asked for."""
    asked = request.query_params.get("lang") or request.cookies.get("lang") or ""
    if asked in ("zh", "en"):
        return asked
    accept = request.headers.get("accept-language", "").lower()
    if accept.startswith("en"):
        return "en"
    return "zh"


def translator_for(request: Request) -> Translator:
    """gettext in the language ``language()`` chose for this request."""
    return translator(language(request))


def remembered_orders(request: Request) -> dict[str, str]:
    """order_no -> token, from the cookie this browser got when ordering."""
    pairs: dict[str, str] = {}
    for item in request.cookies.get(COOKIE, "").split("|"):
        number, _, token = item.partition(":")
        if number and token:
            pairs[number] = token
    return pairs


def remember_cookie(request: Request, order_no: str, token: str) -> str:
    pairs = remembered_orders(request)
    pairs.pop(order_no, None)
    items = [f"{order_no}:{token}"] + [f"{n}:{t}" for n, t in pairs.items()]
    return "|".join(items[:MAX_REMEMBERED])


def token_for(rt: Runtime, order_no: str) -> str:
    return order_token(rt.token_secret, order_no)


def browser_owns(request: Request, rt: Runtime, order_no: str, explicit: str | None = None) -> bool:
    token = (
        explicit or request.headers.get("x-order-token") or remembered_orders(request).get(order_no)
    )
    return check_order_token(rt.token_secret, order_no, token)
