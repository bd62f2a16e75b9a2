"""A sandbox's trades on disk: one JSON file, replaced atomically on each change,
so a restarted sandbox still knows every trade (as the real gateway would)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class JsonFile:
    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: memory only (some tests)

    def load(self) -> list[dict[str, Any]]:
        if self.path is None or not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return list(data) if isinstance(data, list) else []

    def save(self, rows: list[dict[str, Any]]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)
