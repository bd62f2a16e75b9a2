"""The demo's secrets: random on first start, kept in ``var/demo-secrets.json``
(mode 0600) and reused, so demo orders stay readable across runs and the
shop and the sandbox started by ``kameng run`` share one merchant key."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "demo-secrets.json"


@dataclass(frozen=True)
class DemoSecrets:
    secret_key: str
    epay_key: str
    path: Path


def demo_secrets_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def load_or_create(data_dir: Path) -> DemoSecrets:
    """Read the demo secrets, creating them (0600) on first use. Safe when
    several processes start at once: the first file written wins."""
    path = demo_secrets_path(data_dir)
    if not path.exists():
        _create(path)
    values = json.loads(path.read_text(encoding="utf-8"))
    return DemoSecrets(secret_key=values["secret_key"], epay_key=values["epay_key"], path=path)


def read_existing(data_dir: Path) -> DemoSecrets | None:
    """The demo secrets if a demo ran here (to refuse them outside demo mode)."""
    path = demo_secrets_path(data_dir)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        return DemoSecrets(secret_key=values["secret_key"], epay_key=values["epay_key"], path=path)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = json.dumps(
        {"secret_key": secrets.token_urlsafe(32), "epay_key": secrets.token_urlsafe(24)}
    ).encode()
    # Written under a private name with 0600 from the first byte, then linked
    # into place: link() fails if another process got there first (then theirs wins).
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
