"""The base every domain error builds on.

A domain error carries a stable ``code`` (the JSON ``error`` field), an HTTP
status hint, the English msgid of its message and the message's parameters.
Each domain defines its own errors in its ``errors.py``; the edge (web, CLI)
translates them into the user's language with ``translated()``. Nothing here
knows about HTTP frameworks.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kameng.kit.i18n import N_, Translator


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid_input"
    message: ClassVar[str] = N_("Invalid input: %(detail)s")

    def __init__(self, **params: Any) -> None:
        super().__init__(f"{self.code}: {params}")
        self.params = params

    def translated(self, t: Translator) -> str:
        return t(self.message, **self.params)


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = N_("Page not found")


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"
    message = N_("Invalid input: %(detail)s")
