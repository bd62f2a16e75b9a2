"""The web application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine

from kameng.config import Settings, get_settings
from kameng.db.embedded import resolve_database_url
from kameng.db.engine import make_engine, make_sessionmaker
from kameng.kit.crypto import CardKeyCipher
from kameng.payments.gateways.registry import from_settings
from kameng.web import errors
from kameng.web.api_v1.shop import router as shop_api
from kameng.web.notify.gateways import router as notify_router
from kameng.web.query.pages import router as query_pages
from kameng.web.runtime import Runtime
from kameng.web.storefront.pages import router as storefront_pages


def build_runtime(settings: Settings, engine: AsyncEngine) -> Runtime:
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        gateways=from_settings(settings),
        cipher=CardKeyCipher(settings.aes_key()),
        token_secret=settings.derived_key("order-token"),
    )


def create_app(settings: Settings | None = None, *, engine: AsyncEngine | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if engine is not None:
            yield
            return
        url, _server = resolve_database_url(settings.database_url, settings.data_dir)
        own = make_engine(url, pool_size=settings.db_pool_size)
        app.state.runtime = build_runtime(settings, own)
        try:
            yield
        finally:
            await own.dispose()

    app = FastAPI(
        title="kameng shop API",
        version="0.1.0",
        lifespan=lifespan,
        description="Buyer API of a kameng 卡盟 shop. Errors are "
        "`{error, message}` with the message in the buyer's language "
        "(`?lang=en` or Accept-Language).",
    )
    if engine is not None:
        app.state.runtime = build_runtime(settings, engine)
    errors.install(app)
    app.include_router(shop_api)
    app.include_router(notify_router)
    app.include_router(storefront_pages)
    app.include_router(query_pages)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app
