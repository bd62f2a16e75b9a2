"""What the operator's database commands share: settings that can open the
keys, and one transaction whose domain error is a clear message.

Below every layer that has commands (payments' ``kameng channel`` as well as
the top-level CLI modules), above only kit, config and db."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from kameng.config import Settings, get_settings

T = TypeVar("T")


def keyed_settings(purpose: str) -> Settings:
    """The settings, or exit 2 saying what to set (the secret opens the
    ``purpose`` keys: "channel", "supplier")."""
    from kameng.config_check import key_problems, refusal

    settings = get_settings()
    found = key_problems(settings)
    if found:
        typer.echo(refusal(found, purpose), err=True)
        raise typer.Exit(2)
    return settings


def in_transaction(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(conn)`` in one transaction; a domain error is a clear message, exit 1."""
    from kameng.db.connection import make_pool, transaction
    from kameng.db.embedded import resolve_database_url
    from kameng.kit.errors import DomainError
    from kameng.kit.i18n import locale_from_env, translator

    async def run() -> T:
        url, _server = resolve_database_url(settings.database_url, settings.data_dir)
        pool = make_pool(url, size=1)
        await pool.open()
        try:
            async with transaction(pool) as conn:
                return await work(conn)
        finally:
            await pool.close()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        typer.echo(exc.translated(translator(locale_from_env())), err=True)
        raise typer.Exit(1) from None
