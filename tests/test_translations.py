"""The gettext catalogues: complete in every language, and in step with the code.

Extraction runs exactly as ``make i18n`` runs it (babel.cfg over src/), so a
string added to the code or a template without ``make i18n``, a msgid left in
a catalogue after the code dropped it, an empty or fuzzy translation, or a
translation whose ``%(name)s`` placeholders differ from its msgid fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from kameng.kit.errors import DomainError
from kameng.kit.i18n import LOCALES, catalogue_path, locale_from_env, translator

ROOT = Path(__file__).resolve().parents[1]


def _msgids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    pot = tmp_path_factory.mktemp("i18n") / "kameng.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "--quiet",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "--no-location",
            "-o",
            str(pot),
            str(ROOT / "src"),
        ]
    )
    with pot.open("rb") as handle:
        return read_po(handle)


def _catalogue(locale: str) -> Catalog:
    with catalogue_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale)


def test_extraction_finds_the_strings(extracted: Catalog) -> None:
    ids = _msgids(extracted)
    assert "Awaiting payment" in ids  # Python, N_()
    assert "Order now" in ids  # a Jinja template, _()
    assert (
        "%(file)s: %(n)s malformed line, nothing imported",
        "%(file)s: %(n)s malformed lines, nothing imported",
    ) in ids  # ngettext with its plural


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogue_matches_the_code(extracted: Catalog, locale: str) -> None:
    in_code = _msgids(extracted)
    in_catalogue = _msgids(_catalogue(locale))
    assert sorted(map(str, in_code - in_catalogue)) == [], "run `make i18n` and translate"
    assert sorted(map(str, in_catalogue - in_code)) == [], "stale: run `make i18n`"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(locale: str) -> None:
    catalog = _catalogue(locale)
    untranslated = [
        m.id
        for m in catalog
        if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else (m.string,)))
    ]
    assert untranslated == []
    assert len(catalog) > 50


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_the_placeholders(locale: str) -> None:
    placeholder = re.compile(r"%\((\w+)\)s")
    problems = []
    for message in _catalogue(locale):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        wanted = set(placeholder.findall(ids[-1])) | set(placeholder.findall(ids[0]))
        for string in strings:
            # Plural forms may leave %(n)s out ("one line"); nothing else may differ.
            if set(placeholder.findall(string)) | {"n"} != wanted | {"n"}:
                problems.append((message.id, string))
    assert problems == []
    errors = [(m.id, errs) for m, errs in _catalogue(locale).check()]
    assert errors == []


def _subclasses(cls: type[DomainError]) -> list[type[DomainError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_domain_errors_have_distinct_codes_and_translated_messages() -> None:
    import kameng.cardkeys.errors
    import kameng.catalog.errors
    import kameng.orders.errors  # noqa: F401  (registers the subclasses)

    errors = _subclasses(DomainError)
    codes = [e.code for e in errors]
    assert len(codes) >= 12 and len(set(codes)) == len(codes)
    zh, en = translator("zh_CN"), translator("en")
    for error in errors:
        assert zh.gettext(error.message) != error.message, error
        assert en.gettext(error.message) == error.message, error


def test_templates_hold_no_language_conditionals() -> None:
    templates = ROOT / "src" / "kameng" / "web" / "templates"
    offending = [
        path.name
        for path in templates.glob("*.html")
        if re.search(r"lang\s*==|title_zh|title_en", path.read_text(encoding="utf-8"))
    ]
    assert offending == []


def test_translator_fills_and_picks_plural_forms() -> None:
    zh, en = translator("zh"), translator("en-US")
    assert (zh.locale, en.locale) == ("zh_CN", "en")
    assert translator("fr").locale == "zh_CN"  # unsupported: the default
    assert zh("Quantity must be between 1 and %(max)s", max=5) == "购买数量须在 1 到 5 之间"
    assert en("Quantity must be between 1 and %(max)s", max=5) == "Quantity must be between 1 and 5"
    assert en.ngettext("line %(lines)s", "lines %(lines)s", 1, lines="3") == "line 3"
    assert en.ngettext("line %(lines)s", "lines %(lines)s", 2, lines="3, 5") == "lines 3, 5"
    assert zh.ngettext("line %(lines)s", "lines %(lines)s", 2, lines="3、5") == "第 3、5 行"
    # A parameter missing at the call site leaves the text readable, never raises.
    assert en("Quantity must be between 1 and %(max)s") == "Quantity must be between 1 and %(max)s"


def test_operator_language_comes_from_the_environment() -> None:
    assert locale_from_env({"KAMENG_LANG": "en", "LANG": "zh_CN.UTF-8"}) == "en"
    assert locale_from_env({"KAMENG_LANG": "klingon", "LANG": "en_GB.UTF-8"}) == "en"
    assert locale_from_env({"LANG": "zh_TW.UTF-8"}) == "zh_CN"
    assert locale_from_env({"LANG": "C.UTF-8"}) == "zh_CN"
    assert locale_from_env({}) == "zh_CN"


def test_a_catalogue_without_a_fresh_mo_is_compiled_from_its_po(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh clone has no .mo files (they are not committed); an edited .po
    is newer than its .mo. Either way the .po's text is what is served."""
    import os
    import shutil

    from kameng.kit import i18n

    po = tmp_path / "zh_CN" / "LC_MESSAGES" / "kameng.po"
    po.parent.mkdir(parents=True)
    shutil.copy(catalogue_path("zh_CN"), po)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    compile_catalogue = i18n._catalogue.__wrapped__
    assert compile_catalogue("zh_CN").gettext("Awaiting payment") == "待支付"

    po.write_text(
        po.read_text(encoding="utf-8").replace('msgstr "待支付"', 'msgstr "等待付款"'),
        encoding="utf-8",
    )
    stale = po.with_suffix(".mo")
    stale.write_bytes(b"not a catalogue")
    os.utime(stale, (po.stat().st_mtime - 60, po.stat().st_mtime - 60))
    assert compile_catalogue("zh_CN").gettext("Awaiting payment") == "等待付款"
