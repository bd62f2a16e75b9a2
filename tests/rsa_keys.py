"""RSA keypairs for the gateway tests, generated once per test run."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from kameng.sandbox.keys import KeyPair, ensure_keypair


@cache
def _directory() -> Path:
    return Path(tempfile.mkdtemp(prefix="kameng-test-keys-"))


@cache
def keypair(name: str) -> KeyPair:
    """e.g. ``keypair("alipay_app")``; a distinct name is a distinct key."""
    return ensure_keypair(_directory(), name)
