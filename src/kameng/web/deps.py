"""Request helpers: runtime, language, order-ownership tokens."""

from __future__ import annotations

from fastapi import Request

from kameng.kit.i18n import DEFAULT_LOCALE, Translator, negotiate, normalize_locale, translator
from kameng.kit.tokens import order_token
from kameng.web.runtime import Runtime

COOKIE = "kameng_orders"
LANG_COOKIE = "lang"
MAX_REMEMBERED = 20


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def language(request: Request) -> str:
    """The locale (``zh_CN`` or ``en``): ``?lang=``, then the cookie an earlier
    ``?lang=`` set (web.language), then Accept-Language; zh_CN otherwise."""
    return (
        normalize_locale(request.query_params.get("lang"))
        or normalize_locale(request.cookies.get(LANG_COOKIE))
        or negotiate(request.headers.get("accept-language", ""))
        or DEFAULT_LOCALE
    )


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


def owner_token(request: Request, order_no: str, explicit: str | None = None) -> str | None:
    """The order token this request carries: given explicitly (``?token=``), in the
    ``X-Order-Token`` header, or in the cookie of the browser that placed the order.
    Whether it proves ownership is the orders domain's call (``may_see_goods``)."""
    return (
        explicit or request.headers.get("x-order-token") or remembered_orders(request).get(order_no)
    )
