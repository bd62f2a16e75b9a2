"""The page templates. Texts in templates are ``_("English msgid")`` (Jinja's
i18n extension, new-style: ``_("… %(n)s", n=1)``), translated by the request's
translator, which ``language.template_context`` puts in every context as ``t``."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from kameng.catalog.fields import browser_pattern
from kameng.kit.money import format_yuan
from kameng.kit.timefmt import local
from kameng.web.csrf import template_context as csrf_context
from kameng.web.language import template_context


@pass_context
def _gettext(context: Context, message: str) -> str:
    return context["t"].catalogue.gettext(message)  # type: ignore[no-any-return]


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return context["t"].catalogue.ngettext(singular, plural, n)  # type: ignore[no-any-return]


templates = Jinja2Templates(
    directory=str(Path(__file__).parent / "templates"),
    context_processors=[template_context, csrf_context],
)
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
templates.env.filters["yuan"] = format_yuan
templates.env.filters["local_time"] = local
templates.env.filters["browser_pattern"] = browser_pattern
