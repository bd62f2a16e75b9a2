"""What the supply tests share: the supplier sandbox, served over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.supply.harness import Sandbox, serve_sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with serve_sandbox(tmp_path) as box:
        yield box
