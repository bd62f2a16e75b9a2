"""The app frame and the test-helper routes (``/sandbox/trades/...``) that the
Alipay and 易支付 V2 twins share on top of ``trade_flow.TradeFlow``.

Each twin says only how it finds a trade, how its trade reads on its own API,
and the bodies its errors answer with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from html import escape
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from kameng.sandbox.trade_flow import OUTCOMES, NotifiedTrade, TradeFlow, request_fields


class InspectedTrade(NotifiedTrade, Protocol):
    notify_url: str
    refund_outcome: str


TradeT = TypeVar("TradeT", bound=InspectedTrade)


def page(title: str, body: str, *, money_color: str, status: int = 200) -> HTMLResponse:
    """A phone-sized sandbox page (cashier, result, error, index)."""
    return HTMLResponse(
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>body{{font:16px/1.6 sans-serif;max-width:"
        f"440px;margin:24px auto;padding:0 12px}}.money{{font-size:32px;color:{money_color}}}"
        "button{width:100%;padding:12px;font-size:17px;background:#1677ff;color:#fff;"
        "border:0;border-radius:6px}label{display:block;padding:6px 0}</style></head>"
        f"<body>{body}</body></html>",
        status_code=status,
    )


def with_query(url: str, fields: Mapping[str, Any]) -> str:
    """``url`` with ``fields`` appended to whatever query it already has."""
    return f"{url}{'&' if '?' in url else '?'}{urlencode(fields)}"


def sandbox_app(
    title: str, resume: Callable[[], None], aclose: Callable[[], Awaitable[None]]
) -> FastAPI:
    """A twin's app (every twin's, not only these two): ``resume`` on start
    (notifying where it stopped), ``aclose`` its tasks and clients on shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        resume()
        try:
            yield
        finally:
            await aclose()

    return FastAPI(title=title, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


def flow_app(title: str, flow: TradeFlow[Any]) -> FastAPI:
    """The twin's app around its trade flow."""
    app = sandbox_app(title, flow.resume, flow.aclose)
    app.state.resume = flow.resume  # tests without a lifespan call these two themselves
    app.state.aclose = flow.aclose
    return app


def add_inspection_routes(
    app: FastAPI,
    flow: TradeFlow[TradeT],
    *,
    find: Callable[[str], TradeT | None],
    describe: Callable[[TradeT], dict[str, Any]],
    refund_outcomes: Mapping[str, str],
    missing: dict[str, Any],
    not_paid: dict[str, Any],
    bad_outcome: Callable[[list[str]], dict[str, Any]],
    find_to_renotify: Callable[[str], TradeT | None] | None = None,
) -> None:
    """Inspect a trade, pay it by script, choose its refund outcome, re-send its
    notify. ``describe`` is the trade as the gateway's query shows it;
    ``missing`` (404), ``not_paid`` (409) and ``bad_outcome`` (422) are the
    gateway's own error bodies."""
    renotify_find = find_to_renotify or find

    def sandbox_json(trade: TradeT) -> dict[str, Any]:
        return {
            **describe(trade),
            "outcome": trade.outcome,
            "notify_state": trade.notify_state,
            "notify_url": trade.notify_url,
            "notify_attempts": [vars(a) for a in trade.attempts],
            "refunds": [vars(r) for r in trade.refunds],
            "refund_outcome": trade.refund_outcome,
        }

    @app.get("/sandbox/trades/{key}")
    async def sandbox_trade(key: str) -> JSONResponse:
        trade = find(key)
        return JSONResponse(sandbox_json(trade)) if trade else JSONResponse(missing, 404)

    async def chosen(
        key: str, request: Request, default: str, allowed: Collection[str], refusal: dict[str, Any]
    ) -> tuple[TradeT, str] | JSONResponse:
        """The trade and the ``outcome`` field, or the answer refusing them."""
        trade = find(key)
        if trade is None:
            return JSONResponse(missing, 404)
        outcome = (await request_fields(request)).get("outcome", default)
        if outcome not in allowed:
            return JSONResponse(refusal, 422)
        return trade, outcome

    @app.post("/sandbox/trades/{key}/pay")
    async def sandbox_pay(key: str, request: Request) -> JSONResponse:
        """Pay by script: ``outcome`` = notify / later / silent / twice / wrong_amount."""
        found = await chosen(key, request, "notify", OUTCOMES, bad_outcome(sorted(OUTCOMES)))
        if isinstance(found, JSONResponse):
            return found
        trade, outcome = found
        paid_now = await flow.pay(trade, outcome)
        return JSONResponse({"paid_now": paid_now, **sandbox_json(trade)})

    @app.post("/sandbox/trades/{key}/refund-outcome")
    async def sandbox_refund_outcome(key: str, request: Request) -> JSONResponse:
        """What the trade's next refunds do: refund_succeeds / refund_late / refund_fails."""
        refusal = {"error": f"outcome must be one of {sorted(refund_outcomes)}"}
        found = await chosen(key, request, "", refund_outcomes, refusal)
        if isinstance(found, JSONResponse):
            return found
        trade, outcome = found
        trade.refund_outcome = outcome
        flow.store.save()
        return JSONResponse(sandbox_json(trade))

    @app.post("/sandbox/trades/{key}/renotify")
    async def sandbox_renotify(key: str) -> JSONResponse:
        trade = renotify_find(key)
        if trade is None:
            return JSONResponse(missing, 404)
        if flow.unpaid(trade):
            return JSONResponse(not_paid, 409)
        acked = await flow.attempt(trade)
        return JSONResponse({"acked": acked, **sandbox_json(trade)})
