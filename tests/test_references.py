"""Comments and docstrings cite only documents that ship with the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITED = re.compile(r"[\w./-]+\.md\b")


def test_every_cited_markdown_document_is_in_the_repository() -> None:
    files = [
        p
        for folder in ("src", "tests", "scripts")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in (".py", ".html") and p != Path(__file__)
    ]
    missing = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in set(CITED.findall(path.read_text(encoding="utf-8")))
        if not (ROOT / name).exists() and not _anywhere(Path(name).name)
    )
    assert missing == []


def _anywhere(filename: str) -> bool:
    return any(
        p.name == filename
        for p in ROOT.rglob("*.md")
        if ".venv" not in p.parts and "var" not in p.parts
    )
