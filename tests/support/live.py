"""The real shop on a real socket: uvicorn in a thread, on a free port.

The shop's lifespan opens its own pool on the test's database, exactly as
``kameng web`` does. Used by the browser tests, the schemathesis contract test
and the sandboxes' client-library tests (anything that must talk HTTP over TCP
rather than through ASGI).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from kameng.config import Settings
from kameng.web.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def live_settings(settings: Settings) -> Settings:
    """``settings`` with a public URL on a free port (pay links and redirects
    point back at the live server) and a small pool."""
    return settings.model_copy(
        update={"public_url": f"http://127.0.0.1:{free_port()}", "db_pool_size": 4}
    )


@contextmanager
def serve_app(app: Any, port: int | None = None) -> Iterator[str]:
    """Run any ASGI app (the shop, a payment sandbox) under uvicorn in a thread
    on 127.0.0.1 until the block ends; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True, name=f"live-{port}")
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """Run the shop at ``settings.public_url`` until the block ends; yields that URL."""
    with serve_app(create_app(settings), int(settings.public_url.rstrip("/").rsplit(":", 1)[1])):
        yield settings.public_url.rstrip("/")
