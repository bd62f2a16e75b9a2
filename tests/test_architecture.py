"""Rules that keep the code right, checked on the source itself."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "kameng"
PY = sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def test_services_never_commit() -> None:
    offenders = [str(p) for p in SRC.rglob("service.py") if re.search(r"\.commit\(", p.read_text())]
    assert offenders == []


def test_row_locks_live_in_repositories() -> None:
    lock = re.compile(r"FOR UPDATE|SKIP LOCKED|with_for_update", re.IGNORECASE)
    offenders = [
        str(p.relative_to(SRC))
        for p in PY
        if p.name != "repository.py"
        and any(
            lock.search(line)
            and not line.lstrip().startswith(("#", '"""'))
            and "under SKIP LOCKED" not in line
            for line in p.read_text().splitlines()
        )
    ]
    assert offenders == []


def test_status_changes_only_through_transition() -> None:
    writes = re.compile(r"UPDATE orders SET[^;]*\bstatus\s*=", re.IGNORECASE | re.DOTALL)
    offenders = [
        str(p.relative_to(SRC))
        for p in PY
        if writes.search(p.read_text()) and p.name != "states.py"
    ]
    assert offenders == []


def test_modules_stay_small() -> None:
    big = {str(p.relative_to(SRC)): n for p in PY if (n := len(p.read_text().splitlines())) > 600}
    assert big == {}


def test_money_is_never_float() -> None:
    offenders = [str(p.relative_to(SRC)) for p in PY if re.search(r"\bfloat\(", p.read_text())]
    assert offenders == []
