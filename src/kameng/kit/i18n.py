"""Translations: one gettext catalogue (``kameng``) per language, zh_CN first.

Source strings are English msgids, marked with ``N_`` where they are defined
(domain errors, labels) and translated where they are shown (web, CLI) by a
``Translator`` for the user's language. Placeholders are ``%(name)s``, the
same style Jinja's i18n extension uses, so Python and templates share rules.

Catalogues live in ``kameng/locale/<locale>/LC_MESSAGES/kameng.po``; ``make
i18n`` extracts, updates and compiles them. A compiled ``.mo`` is used when it
is at least as new as its ``.po``; otherwise the ``.po`` is compiled in memory,
so a fresh clone or an edited catalogue never serves stale text.
"""

from __future__ import annotations

import gettext
import io
import os
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "kameng"
DEFAULT_LOCALE = "zh_CN"
LOCALES = ("zh_CN", "en")
# Each language names itself (the language switch shows these, untranslated).
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


def N_(msgid: str) -> str:
    """Mark a string for extraction; it is translated later, where it is shown."""
    return msgid


def normalize_locale(tag: str | None) -> str | None:
    """``zh``, ``zh-CN``, ``zh_Hans``, ``en-US``, ``en_GB.UTF-8``… → a supported locale."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].split(".", 1)[0].lower()
    if primary == "zh":
        return "zh_CN"
    if primary == "en":
        return "en"
    return None


def negotiate(accept_language: str) -> str | None:
    """The best supported locale of an Accept-Language header, by q-value."""
    choices: list[tuple[Decimal, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = Decimal(1)
        params = params.strip()
        if params.startswith("q="):
            try:  # Decimal, not float: the architecture test keeps float out of src/
                quality = Decimal(params[2:])
            except InvalidOperation:
                continue
            if not quality.is_finite():
                continue
        locale = normalize_locale(tag)
        if locale is not None and quality > 0:
            choices.append((-quality, position, locale))
    return min(choices)[2] if choices else None


def locale_from_env(environ: dict[str, str] | None = None) -> str:
    """For the CLI: ``KAMENG_LANG``, then ``LANG``; zh_CN otherwise."""
    env = os.environ if environ is None else environ
    for name in ("KAMENG_LANG", "LANG"):
        locale = normalize_locale(env.get(name))
        if locale is not None:
            return locale
    return DEFAULT_LOCALE


def catalogue_path(locale: str, suffix: str = ".po") -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


@cache
def _catalogue(locale: str) -> gettext.GNUTranslations:
    po = catalogue_path(locale)
    mo = catalogue_path(locale, ".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """gettext for one locale, with ``%(name)s`` parameters filled in."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.catalogue = _catalogue(locale)

    @property
    def html_lang(self) -> str:
        return self.locale.replace("_", "-")

    def gettext(self, msgid: str) -> str:
        """The translation as is, placeholders unfilled."""
        return self.catalogue.gettext(msgid)

    def __call__(self, msgid: str, /, **params: Any) -> str:
        """The translation of ``msgid`` (marked with ``N_`` where it is defined)
        with ``params`` filled in."""
        return _fill(self.catalogue.gettext(msgid), params)

    def ngettext(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        """The form for ``n``, filled; ``n`` is available as ``%(n)s``. The literal
        strings are extracted as they stand (``ngettext`` is a gettext keyword)."""
        return _fill(self.catalogue.ngettext(singular, plural, n), {"n": n, **params})


def _fill(text: str, params: dict[str, Any]) -> str:
    try:
        return text % params
    except (KeyError, ValueError, TypeError):
        return text  # a catalogue typo must not break the page; the catalogue test catches it


@cache
def translator(locale: str | None = None) -> Translator:
    """The translator for ``locale`` (any spelling ``normalize_locale`` accepts)."""
    return Translator(normalize_locale(locale) or DEFAULT_LOCALE)
