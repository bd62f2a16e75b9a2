"""``kameng announce add|list|end`` against the test database."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kameng.cli import app
from tests.factories import count, make_product
from tests.support import run_sync


def test_add_list_end(cli_env: None, database_url: str) -> None:
    run_sync(make_product(database_url))
    runner = CliRunner()
    added = runner.invoke(
        app,
        ["announce", "add", "--zh", "十元卡维护", "--en", "GAME-10 maintenance",
         "--scope", "product", "--target", "GAME-10", "--ends", "2099-01-01T00:00"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.output.startswith("notice ") and "published (product GAME-10)" in added.output
    listed = runner.invoke(app, ["announce", "list", "--json"])
    rows = json.loads(listed.output)
    assert [(r["scope"], r["target"], r["zh"], r["en"], r["active"]) for r in rows] == [
        ("product", "GAME-10", "十元卡维护", "GAME-10 maintenance", True)
    ]
    assert rows[0]["ends_at"] == "2099-01-01 00:00"
    ended = runner.invoke(app, ["announce", "end", str(rows[0]["id"])])
    assert ended.exit_code == 0 and ended.output == f"notice {rows[0]['id']} ended\n"
    assert runner.invoke(app, ["announce", "list"]).output == "no notices\n"
    again = runner.invoke(app, ["announce", "end", str(rows[0]["id"])])
    assert again.exit_code == 1
    assert f"No notice {rows[0]['id']}, or it has already ended" in again.output


def test_add_without_target_says_all_without_a_stray_space(
    cli_env: None, database_url: str
) -> None:
    added = CliRunner().invoke(
        app,
        [
            "announce",
            "add",
            "--zh",
            "全店维护",
            "--en",
            "Maintenance",
            "--ends",
            "2099-01-01T00:00",
        ],
    )
    assert added.exit_code == 0, added.output
    assert added.output.endswith(" published (all)\n"), added.output
    assert run_sync(count(database_url, "SELECT count(*) FROM notices WHERE target IS NULL")) == 1


def test_bad_input_is_a_clear_error_and_writes_nothing(cli_env: None, database_url: str) -> None:
    runner = CliRunner()
    for args, phrase in (
        (["--scope", "product", "--target", "NOPE"], "Unknown scope target NOPE"),
        (["--scope", "planet"], "scope must be one of"),
        (["--ends", "soon"], "not a date-time"),
        (["--ends", "2000-01-01T00:00"], "must end after it starts, and in the future"),
    ):
        base = ["announce", "add", "--zh", "中", "--en", "en"]
        if "--ends" not in args:
            base += ["--ends", "2099-01-01T00:00"]
        result = runner.invoke(app, base + args)
        assert result.exit_code != 0 and phrase in result.output, (args, result.output)
    assert run_sync(count(database_url, "SELECT count(*) FROM notices")) == 0
