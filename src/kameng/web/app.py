"""The web application factory."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from psycopg_pool import AsyncConnectionPool

from kameng.config import Settings, get_settings
from kameng.config_check import gateway_problems_only, problems, refusal
from kameng.db.connection import Conn, make_pool
from kameng.db.embedded import resolve_database_url
from kameng.fulfilment.service import StrategyGoods
from kameng.kit.logs import configure_logging
from kameng.kit.timefmt import local
from kameng.limits.service import PASSWORD_PER_ORDER, Limiter, RuleThrottle
from kameng.orders.live import TimelineHub
from kameng.payments.channels.env_import import drafts_from_settings
from kameng.payments.channels.live import LiveGateways
from kameng.payments.channels.repository import enabled_count_at
from kameng.web import errors
from kameng.web.api_v1.shop import router as shop_api
from kameng.web.api_v1.tickets import router as tickets_api
from kameng.web.catalogue import catalogue_snapshot, notice_board
from kameng.web.middleware import ShopMiddleware
from kameng.web.notify.gateways import router as notify_router
from kameng.web.notify.suppliers import router as supplier_notify_router
from kameng.web.observability import router as metrics_router
from kameng.web.query.pages import router as query_pages
from kameng.web.runtime import Runtime
from kameng.web.storefront.live_events import router as live_events
from kameng.web.storefront.pages import router as storefront_pages
from kameng.web.storefront.pay_start import router as pay_start
from kameng.web.storefront.support import router as support_pages
from kameng.web.templating import templates

# Announcements reach every web process within a second of being published.
NOTICES_CACHE_SECONDS = 1.0

# Rate-limit counters are one short statement each, never nested: two
# connections per process serve them without touching the request pool.
LIMITS_POOL_SIZE = 2


def build_runtime(
    settings: Settings,
    pool: AsyncConnectionPool[Conn],
    *,
    limits_pool: AsyncConnectionPool[Conn] | None = None,
) -> Runtime:
    """``limits_pool``: the rate-limit counters' own connections. A request that
    holds a connection of ``pool`` counts a wrong password on another one; were
    both from one pool, N concurrent requests on an N-connection pool would each
    wait for a connection none of them gives back."""
    cipher = settings.card_key_cipher()
    limiter = Limiter(limits_pool or pool)
    # Channels come from the database; the environment's gateways are
    # imported on first start (an empty channel table).
    gateways = LiveGateways(cipher, imports=drafts_from_settings(settings), pool=pool)
    return Runtime(
        settings=settings,
        pool=pool,
        gateways=gateways,
        cipher=cipher,
        goods=StrategyGoods(cipher),
        token_secret=settings.derived_key("order-token"),
        catalogue=catalogue_snapshot(pool, ttl=settings.catalog_cache_seconds),
        old_token_secrets=settings.old_derived_keys("order-token"),
        passwords=settings.query_passwords(),
        limiter=limiter,
        password_throttle=RuleThrottle(limiter, PASSWORD_PER_ORDER),
        # make_pool gives a URL string. The same connection follows the channels'
        # version, so requests need not read it while it is up.
        timelines=TimelineHub(str(pool.conninfo), followers=[gateways]),
        notices=notice_board(pool, ttl=NOTICES_CACHE_SECONDS),
    )


def create_app(
    settings: Settings | None = None, *, pool: AsyncConnectionPool[Conn] | None = None
) -> FastAPI:
    """The shop. Given a ``pool`` (tests), it uses it; otherwise the lifespan
    resolves the database (DATABASE_URL or embedded) and opens its own."""
    if settings is None:
        settings = get_settings()
        found = problems(settings)
        if gateway_problems_only(found) and settings.database_url:
            found = problems(settings, enabled_channels=enabled_count_at(settings.database_url))
        if found:  # e.g. `uvicorn --factory kameng.web.app:create_app` without configuration
            raise SystemExit(refusal(found, "web"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if pool is not None:
            try:
                yield
            finally:
                await app.state.runtime.timelines.close()
            return
        url, _server = resolve_database_url(settings.database_url, settings.data_dir)
        own = make_pool(url, size=settings.db_pool_size, autocommit_mode=True)
        limits = make_pool(url, size=LIMITS_POOL_SIZE, autocommit_mode=True)
        await own.open()
        await limits.open()
        app.state.runtime = build_runtime(settings, own, limits_pool=limits)
        app.state.runtime.timelines.start()  # listening from the start: channel changes
        # Everything built so far lives as long as the process: out of the cyclic
        # collector's sight, so its full collections stop walking the whole app
        # (a pause of milliseconds in the middle of some request).
        gc.freeze()
        try:
            yield
        finally:
            await app.state.runtime.timelines.close()
            await limits.close()
            await own.close()

    app = FastAPI(
        title="kameng shop API",
        version="0.1.0",
        lifespan=lifespan,
        description="Buyer API of a kameng 卡盟 shop. Errors are "
        "`{error, message}` with the message in the buyer's language "
        "(`?lang=en`, remembered in a cookie, or Accept-Language; zh_CN by default).",
    )
    if pool is not None:
        app.state.runtime = build_runtime(settings, pool)
    # Templates show times in the shop's zone (one setting per process).
    templates.env.filters["local_time"] = partial(local, zone_name=settings.display_timezone)
    errors.install(app)
    # CSRF seed, security headers, request metric and log, language cookie:
    # one pure-ASGI layer (kameng.web.middleware).
    app.add_middleware(ShopMiddleware)
    app.include_router(metrics_router)
    app.include_router(shop_api)
    app.include_router(tickets_api)
    app.include_router(supplier_notify_router)
    app.include_router(notify_router)
    app.include_router(storefront_pages)
    app.include_router(live_events)
    app.include_router(pay_start)
    app.include_router(support_pages)
    app.include_router(query_pages)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app


def production_app() -> FastAPI:
    """``uvicorn kameng.web.app:production_app --factory``: the shop with the
    process's logging set up (JSON lines; ``KAMENG_LOG_LEVEL``), as ``kameng web``
    runs it. Each uvicorn worker process calls it."""
    configure_logging(os.environ.get("KAMENG_LOG_LEVEL", "INFO").upper())
    return create_app()
