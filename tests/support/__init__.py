"""Test infrastructure: databases, the live server, sync bridges."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion from synchronous code (a sync fixture or
    test), on a private event loop in another thread: the calling thread's loop,
    if any, is left alone."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


async def wait_for(predicate: Any) -> None:
    """Poll ``predicate`` (an async callable) until it holds; fail after 5 s."""
    async with asyncio.timeout(5):
        while not await predicate():  # noqa: ASYNC110 - polling another app over HTTP
            await asyncio.sleep(0.02)
