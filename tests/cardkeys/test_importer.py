"""Bulk card-key import: parsing, all-or-nothing rejection, duplicates, restock job, CLI."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kameng.cardkeys.cli import import_cards_command
from kameng.cardkeys.errors import ImportRejected, MalformedLineError, UnknownProduct
from kameng.cardkeys.importer import MAX_REPORTED_ERRORS, import_card_keys, parse_line
from kameng.config import Settings
from kameng.kit.clock import FrozenClock
from kameng.kit.crypto import CardKeyCipher
from kameng.kit.i18n import translator
from tests.cardkeys.conftest import Conn
from tests.factories import Sessions, make_product


@pytest.fixture
def cipher(settings: Settings) -> CardKeyCipher:
    return settings.card_key_cipher()


async def stock(conn: Conn, cipher: CardKeyCipher, product_id: int) -> list[tuple[str, str]]:
    """(number, password) of the product's keys, in allocation (pool_seq) order."""
    cur = await conn.execute(
        "SELECT fingerprint, secret FROM card_keys WHERE product_id = %s ORDER BY pool_seq",
        (product_id,),
    )
    return [
        cipher.open(secret, product_id=product_id, fingerprint=fp)
        for fp, secret in await cur.fetchall()
    ]


async def scalar(conn: Conn, sql: str, *params: Any) -> Any:
    cur = await conn.execute(sql, params)
    row = await cur.fetchone()
    assert row is not None
    return row[0]


async def run_import(conn: Conn, cipher: CardKeyCipher, sku: str, text: str) -> Any:
    return await import_card_keys(
        conn, product_sku=sku, lines=text.splitlines(keepends=True), cipher=cipher
    )


class TestParseLine:
    @pytest.mark.parametrize(
        ("line", "expected"),
        [
            ("KM001 pw1\n", ("KM001", "pw1")),
            ("KM001,pw1\r\n", ("KM001", "pw1")),
            ("KM001，pw1", ("KM001", "pw1")),
            ("KM001\tpw1", ("KM001", "pw1")),
            ("  KM001 ,  pw1  ", ("KM001", "pw1")),
            ("KM001\u3000pw1", ("KM001", "pw1")),  # full-width space
            ("KM001    \t pw1", ("KM001", "pw1")),
            ("卡号一 密码一", ("卡号一", "密码一")),
            ("\n", None),
            (" \t \r\n", None),
            ("", None),
        ],
    )
    def test_accepts(self, line: str, expected: tuple[str, str] | None) -> None:
        assert parse_line(line) == expected

    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            ("KM001\n", "missing_password"),
            ("KM001,\n", "missing_password"),
            ("KM001，  ", "missing_password"),
            (",pw1", "missing_number"),
            ("KM001 pw1 extra", "too_many_fields"),
            ("KM001,pw1,extra", "too_many_fields"),
            ("KM001,,pw1", "too_many_fields"),
            ("KM001,pw1 extra", "too_many_fields"),
            ("K" * 201 + " pw", "field_too_long"),
            ("KM001 " + "p" * 201, "field_too_long"),
            ("KM\x00001 pw1", "control_character"),
            ("KM001 pw1\x1b[0m", "control_character"),
            ("KM001 pw\u200b1", "control_character"),  # zero-width space
            ("KM001\rpw1", "control_character"),  # bare CR is not a line ending
            ("KM001 pw\udcb11", "invalid_utf8"),  # undecodable byte, surrogateescape
        ],
    )
    def test_rejects(self, line: str, reason: str) -> None:
        with pytest.raises(MalformedLineError) as caught:
            parse_line(line)
        assert caught.value.reason == reason

    def test_200_characters_is_still_fine(self) -> None:
        assert parse_line("K" * 200 + " " + "p" * 200) == ("K" * 200, "p" * 200)


class TestImport:
    async def test_good_file_imports_every_key_sealed_in_file_order(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher, clock: FrozenClock
    ) -> None:
        product_id = (await make_product(db, sku="GAME-10")).id
        keys = [(f"KM{i:04d}", f"pass-{i}") for i in (5, 3, 9, 1, 7)]
        text = "".join(f"{n} {p}\n" for n, p in keys)

        report = await run_import(conn, cipher, "GAME-10", text)

        assert report.imported == 5
        assert report.product_id == product_id
        assert report.product_sku == "GAME-10"
        assert report.total_lines == 5
        assert report.duplicate_in_file == []
        assert report.duplicate_in_stock == []
        assert await stock(conn, cipher, product_id) == keys  # pool_seq follows the file
        cur = await conn.execute(
            "SELECT fingerprint, secret, status, order_id, slot, sold_at, created_at"
            " FROM card_keys ORDER BY pool_seq"
        )
        rows = await cur.fetchall()
        assert [r[0] for r in rows] == [cipher.fingerprint(n) for n, _ in keys]
        assert {(r[2], r[3], r[4], r[5], r[6]) for r in rows} == {
            ("available", None, None, None, clock.now())
        }
        for (number, password), row in zip(keys, rows, strict=True):
            assert number.encode() not in row[1] and password.encode() not in row[1]

    async def test_separators_blank_lines_crlf_and_bom(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        product_id = (await make_product(db, sku="GAME-10")).id
        text = (
            "\ufeffA1 p1\r\n"  # 1: BOM, CRLF
            "A2,p2\r\n"  # 2
            "\r\n"  # 3: blank
            "A3，p3\n"  # 4: full-width comma
            "A4\tp4\n"  # 5: tab
            "   \n"  # 6: blank
            "A5 , p5\n"  # 7
            "A6\u3000p6"  # 8: full-width space, no final newline
        )
        report = await run_import(conn, cipher, "GAME-10", text)

        assert (report.imported, report.total_lines, report.blank_lines) == (6, 8, 2)
        assert await stock(conn, cipher, product_id) == [(f"A{i}", f"p{i}") for i in range(1, 7)]

    async def test_bom_is_not_part_of_the_first_card_number(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        await make_product(db, sku="GAME-10")
        await run_import(conn, cipher, "GAME-10", "A1 p1\n")
        report = await run_import(conn, cipher, "GAME-10", "\ufeffA1 p1\n")
        assert (report.imported, report.duplicate_in_stock) == (0, [1])

    async def test_malformed_lines_reject_the_whole_file(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        await make_product(db, sku="GAME-10")
        long_number = "9" * 201
        text = (
            "A1 p1\n"  # 1 fine (already COPYed when line 2 is read)
            "A2\n"  # 2 missing password
            "\n"  # 3 blank
            "A3 p3 extra\n"  # 4 three fields
            f"{long_number} p5\n"  # 5 overlong
            "A6 p6\n"  # 6 fine
            ",p7\n"  # 7 missing number
            "A8 p\x008\n"  # 8 control character
        )
        with pytest.raises(ImportRejected) as caught:
            await run_import(conn, cipher, "GAME-10", text)

        rejected = caught.value
        assert [(e.line_no, e.reason) for e in rejected.errors] == [
            (2, "missing_password"),
            (4, "too_many_fields"),
            (5, "field_too_long"),
            (7, "missing_number"),
            (8, "control_character"),
        ]
        assert rejected.total_errors == 5
        assert rejected.errors[0].excerpt == "A2"
        assert rejected.errors[0].message(translator("zh_CN")) == "缺少密码"
        assert rejected.errors[0].message(translator("en")) == "missing password"
        assert rejected.errors[2].excerpt == "9" * 59 + "…"
        assert rejected.errors[4].excerpt == "A8 p\\x008"
        assert await scalar(conn, "SELECT count(*) FROM card_keys") == 0
        assert await scalar(conn, "SELECT count(*) FROM procrastinate_jobs") == 0

    async def test_reports_at_most_the_first_50_errors_and_counts_all(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        await make_product(db, sku="GAME-10")
        text = "".join("GOOD1 pw\n" if i % 2 else f"BAD{i}\n" for i in range(240))
        with pytest.raises(ImportRejected) as caught:
            await run_import(conn, cipher, "GAME-10", text)
        assert caught.value.total_errors == 120
        assert len(caught.value.errors) == MAX_REPORTED_ERRORS == 50
        assert [e.line_no for e in caught.value.errors] == list(range(1, 100, 2))
        assert await scalar(conn, "SELECT count(*) FROM card_keys") == 0

    async def test_duplicates_in_file_and_in_stock_are_skipped_with_line_numbers(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        product_id = (await make_product(db, sku="GAME-10")).id
        await run_import(conn, cipher, "GAME-10", "K1 old1\nK2 old2\nK3 old3\n")

        text = (
            "K4 first4\n"  # 1 new
            "K2 other2\n"  # 2 in stock (same number, other password)
            "K4 second4\n"  # 3 repeats line 1
            "\n"  # 4
            "K5 first5\n"  # 5 new
            "K1 old1\n"  # 6 in stock
            "K5 first5\n"  # 7 repeats line 5
            "K4 third4\n"  # 8 repeats line 1
        )
        report = await run_import(conn, cipher, "GAME-10", text)

        assert report.imported == 2
        assert report.duplicate_in_file == [(3, 1), (7, 5), (8, 1)]
        assert report.duplicate_in_stock == [2, 6]
        assert await stock(conn, cipher, product_id) == [
            ("K1", "old1"),
            ("K2", "old2"),
            ("K3", "old3"),
            ("K4", "first4"),
            ("K5", "first5"),
        ]

    async def test_reimporting_a_file_imports_nothing(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        await make_product(db, sku="GAME-10")
        text = "K1 p1\n\nK2 p2\nK3 p3\n"
        first = await run_import(conn, cipher, "GAME-10", text)
        again = await run_import(conn, cipher, "GAME-10", text)
        assert first.imported == 3
        assert (again.imported, again.duplicate_in_stock, again.duplicate_in_file) == (
            0,
            [1, 3, 4],
            [],
        )
        assert await scalar(conn, "SELECT count(*) FROM card_keys") == 3

    async def test_same_number_in_another_product_is_not_a_duplicate(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        await make_product(db, sku="GAME-10")
        other = (await make_product(db, sku="GAME-50")).id
        await run_import(conn, cipher, "GAME-10", "K1 p1\n")
        report = await run_import(conn, cipher, "GAME-50", "K1 p1\n")
        assert (report.imported, report.duplicate_in_stock) == (1, [])
        assert await stock(conn, cipher, other) == [("K1", "p1")]

    async def test_unknown_product_writes_nothing_and_reads_nothing(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        await make_product(db, sku="GAME-10")
        consumed: list[str] = []

        def lines() -> Iterator[str]:
            for line in ("K1 p1\n", "K2 p2\n"):
                consumed.append(line)
                yield line

        with pytest.raises(UnknownProduct) as caught:
            await import_card_keys(conn, product_sku="NOPE", lines=lines(), cipher=cipher)
        assert caught.value.sku == "NOPE"
        assert consumed == []
        assert await scalar(conn, "SELECT count(*) FROM card_keys") == 0
        assert await scalar(conn, "SELECT count(*) FROM procrastinate_jobs") == 0

    async def test_failure_while_reading_leaves_nothing_behind(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        product_id = (await make_product(db, sku="GAME-10")).id

        def failing() -> Iterator[str]:
            for i in range(1000):
                yield f"K{i} p{i}\n"
            raise OSError("disk went away")

        with pytest.raises(OSError, match="disk went away"):
            await import_card_keys(conn, product_sku="GAME-10", lines=failing(), cipher=cipher)
        assert await scalar(conn, "SELECT count(*) FROM card_keys") == 0
        # the connection is clean: the same import now works (no temp table left over)
        report = await run_import(conn, cipher, "GAME-10", "K1 p1\n")
        assert report.imported == 1
        assert await stock(conn, cipher, product_id) == [("K1", "p1")]

    async def test_runs_inside_the_callers_transaction(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        await make_product(db, sku="GAME-10")
        async with conn.transaction() as outer:
            report = await run_import(conn, cipher, "GAME-10", "K1 p1\nK2 p2\n")
            assert report.imported == 2
            assert await scalar(conn, "SELECT count(*) FROM card_keys") == 2
            raise psycopg.Rollback(outer)
        assert await scalar(conn, "SELECT count(*) FROM card_keys") == 0
        assert await scalar(conn, "SELECT count(*) FROM procrastinate_jobs") == 0

    async def test_statistics_are_fresh_after_import(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        await make_product(db, sku="GAME-10")
        text = "".join(f"K{i} p{i}\n" for i in range(300))
        await run_import(conn, cipher, "GAME-10", text)
        reltuples = await scalar(
            conn, "SELECT reltuples FROM pg_class WHERE oid = 'card_keys'::regclass"
        )
        assert reltuples == 300

    async def test_progress_reports_lines_read(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        await make_product(db, sku="GAME-10")
        seen: list[int] = []
        text = "".join(f"K{i} p{i}\n" for i in range(20000))
        await import_card_keys(
            conn,
            product_sku="GAME-10",
            lines=text.splitlines(keepends=True),
            cipher=cipher,
            progress=seen.append,
        )
        assert seen == [8192, 16384, 20000]


class TestRestockJob:
    async def jobs(self, conn: Conn) -> list[tuple[Any, ...]]:
        cur = await conn.execute(
            "SELECT task_name, args, queueing_lock, status FROM procrastinate_jobs ORDER BY id"
        )
        return await cur.fetchall()

    async def test_import_defers_one_restock_job_for_the_product(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        product_id = (await make_product(db, sku="GAME-10")).id
        await run_import(conn, cipher, "GAME-10", "K1 p1\n")
        expected = [
            (
                "fulfilment.fulfil_awaiting_stock",
                {"product_id": product_id},
                f"restock:{product_id}",
                "todo",
            )
        ]
        assert await self.jobs(conn) == expected

        # A second import while that job still waits: imported, no second job,
        # and the queueing-lock conflict did not abort the import transaction.
        again = await run_import(conn, cipher, "GAME-10", "K2 p2\n")
        assert again.imported == 1
        assert await self.jobs(conn) == expected
        assert await scalar(conn, "SELECT count(*) FROM card_keys") == 2

    async def test_nothing_imported_defers_nothing(
        self, conn: Conn, db: Sessions, cipher: CardKeyCipher
    ) -> None:
        await make_product(db, sku="GAME-10")
        report = await run_import(conn, cipher, "GAME-10", "\n\n")
        assert report.imported == 0
        assert await self.jobs(conn) == []


class TestCommand:
    @pytest.fixture(autouse=True)
    def operator_language(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("KAMENG_LANG", "zh_CN")

    @pytest.fixture
    def cli(self, database_url: str, settings: Settings) -> Callable[..., Awaitable[int]]:
        """``kameng import-cards`` on this database, or on ``url``; its exit code."""

        async def run(sku: str, file: Path, url: str = database_url) -> int:
            # In a thread: the command runs its own event loop, like from a shell.
            return await asyncio.to_thread(import_cards_command, sku, file, url, settings=settings)

        return run

    async def test_imports_and_prints_the_report(
        self,
        conn: Conn,
        db: Sessions,
        cipher: CardKeyCipher,
        tmp_path: Path,
        cli: Callable[..., Awaitable[int]],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        product_id = (await make_product(db, sku="GAME-10")).id
        await run_import(conn, cipher, "GAME-10", "K9 p9\n")
        file = tmp_path / "cards.txt"
        file.write_bytes("\ufeffK1 p1\r\nK2,p2\nK1 p1\n\nK9 p9\nK3，密码3\n".encode())

        code = await cli("GAME-10", file)

        out = capsys.readouterr().out
        assert code == 0
        assert f"{file} → GAME-10: 导入 3 条；文件内重复 1 条；与库存重复 1 条\n" in out
        assert "\n  第 3 行同第 1 行\n" in out
        assert "\n与库存重复（已跳过）：\n  第 5 行\n" in out
        assert "\n共 6 行，空行 1\n" in out
        assert await stock(conn, cipher, product_id) == [
            ("K9", "p9"),
            ("K1", "p1"),
            ("K2", "p2"),
            ("K3", "密码3"),
        ]

    async def test_malformed_file_exits_1_and_lists_the_lines(
        self,
        conn: Conn,
        db: Sessions,
        tmp_path: Path,
        cli: Callable[..., Awaitable[int]],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        await make_product(db, sku="GAME-10")
        file = tmp_path / "cards.txt"
        # line 3 is GBK, not UTF-8: a common mistake with files from Windows
        file.write_bytes(b"K1 p1\nK2\n" + "K3 密码".encode("gbk") + b"\n[red]x y z\n")

        code = await cli("GAME-10", file)

        out = capsys.readouterr().out
        assert code == 1
        assert f"{file}: 3 行格式错误，未导入任何卡密\n" in out
        assert "\n  第 2 行: 缺少密码: K2\n" in out
        assert "\n  第 3 行: 不是有效的 UTF-8 文本（文件可能是 GBK 编码，请另存为 UTF-8）" in out
        assert "\n  第 4 行: 字段过多，每行应为“卡号 密码”两项: [red]x y z\n" in out
        assert "[red]x y z" in out  # file content is not taken for rich markup
        assert await scalar(conn, "SELECT count(*) FROM card_keys") == 0

    async def test_speaks_the_operators_language(
        self,
        conn: Conn,
        db: Sessions,
        cipher: CardKeyCipher,
        tmp_path: Path,
        cli: Callable[..., Awaitable[int]],
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.delenv("KAMENG_LANG")
        monkeypatch.setenv("LANG", "en_US.UTF-8")
        product_id = (await make_product(db, sku="GAME-10")).id
        await run_import(conn, cipher, "GAME-10", "K9 p9\n")
        bad = tmp_path / "bad.txt"
        bad.write_text("K1 p1\nK2\n", encoding="utf-8")
        good = tmp_path / "good.txt"
        good.write_text("K1 p1\nK1 p1\nK9 p9\n", encoding="utf-8")

        assert await cli("GAME-10", bad) == 1
        assert capsys.readouterr().out == (
            f"{bad}: 1 malformed line, nothing imported\n"
            "  line 2: missing password: K2\n"
            "Format: one “number password” per line (separated by a space, a tab or a comma)\n"
        )
        assert await cli("GAME-10", good) == 0
        assert capsys.readouterr().out == (
            f"{good} → GAME-10: imported 1; duplicates within the file: 1; already in stock: 1\n"
            "Duplicates within the file (skipped):\n"
            "  line 2 repeats line 1\n"
            "Already in stock (skipped):\n"
            "  line 3\n"
            "3 lines, 0 blank\n"
        )
        assert await stock(conn, cipher, product_id) == [("K9", "p9"), ("K1", "p1")]

    async def test_unknown_product_exits_2(
        self,
        conn: Conn,
        db: Sessions,
        tmp_path: Path,
        cli: Callable[..., Awaitable[int]],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        file = tmp_path / "cards.txt"
        file.write_text("K1 p1\n", encoding="utf-8")
        assert await cli("NOPE", file) == 2
        assert capsys.readouterr().err.endswith("\n没有商品 NOPE\n")
        assert await scalar(conn, "SELECT count(*) FROM card_keys") == 0

    async def test_unreadable_or_utf16_file_exits_2(
        self,
        conn: Conn,
        db: Sessions,
        tmp_path: Path,
        cli: Callable[..., Awaitable[int]],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        await make_product(db, sku="GAME-10")
        missing = tmp_path / "missing.txt"
        assert await cli("GAME-10", missing) == 2
        assert capsys.readouterr().err.startswith(f"无法读取文件 {missing}：")

        utf16 = tmp_path / "utf16.txt"
        utf16.write_text("K1 p1\n", encoding="utf-16")
        assert await cli("GAME-10", utf16) == 2
        assert capsys.readouterr().err.startswith(f"{utf16}: 文件是 UTF-16 编码，请另存为 UTF-8")

        assert await cli("GAME-10", tmp_path) == 2
        assert await scalar(conn, "SELECT count(*) FROM card_keys") == 0

    async def test_unreachable_database_exits_3(
        self,
        tmp_path: Path,
        cli: Callable[..., Awaitable[int]],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        file = tmp_path / "cards.txt"
        file.write_text("K1 p1\n", encoding="utf-8")
        url = "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=2"
        assert await cli("GAME-10", file, url) == 3
        assert capsys.readouterr().err.startswith("数据库错误，未导入任何卡密：")
