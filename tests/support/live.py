"""The real shop on a real socket: uvicorn in a thread, on a free port.

Its lifespan opens its own pool on the test's database, exactly as
``kameng web`` does. Used by the browser tests and the schemathesis contract
test (anything that must talk HTTP over TCP rather than through ASGI).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
def serve(settings: Settings) -> Iterator[str]:
    """Run the shop at ``settings.public_url`` until the block ends; yields that URL."""
    base = settings.public_url.rstrip("/")
    port = int(base.rsplit(":", 1)[1])
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True, name=f"live-shop-{port}")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "shop did not start"
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
