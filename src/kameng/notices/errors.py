"""Announcement errors (operator input at the CLI, later the console)."""

from __future__ import annotations

from kameng.kit.errors import InvalidInput, NotFound
from kameng.kit.i18n import N_


class NoticeTextInvalid(InvalidInput):
    code = "notice_text_invalid"
    message = N_("The notice needs a text in both languages, %(max)s characters at most each")


class NoticeWindowInvalid(InvalidInput):
    code = "notice_window_invalid"
    message = N_("The notice must end after it starts, and in the future")


class NoticeTargetInvalid(InvalidInput):
    code = "notice_target_invalid"
    message = N_(
        "Unknown scope target %(target)s: give a product SKU, a supplier code or a payment "
        "channel name, or nothing for a notice to everyone"
    )


class NoticeNotFound(NotFound):
    code = "notice_not_found"
    message = N_("No notice %(id)s, or it has already ended")
