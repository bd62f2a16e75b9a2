"""The proof-of-work check (ALTCHA) asked for after repeated lookup misses.

Works offline: the challenge is signed here (HMAC, key derived from the shop's
secret), solved by the browser with the vendored widget
(static/vendor/altcha), verified here; nothing leaves the shop. A solution is
accepted once (its signature is counted in the rate-limit table) and only
before the challenge expires.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import altcha
from markupsafe import Markup, escape

from kameng.kit.i18n import N_, Translator
from kameng.limits.service import Rule
from kameng.web.runtime import Runtime

ALGORITHM = "PBKDF2/SHA-256"
COST = 1000  # ~256 tries × 1000 iterations: well under a second in a browser
LIFETIME = timedelta(minutes=10)
USED_ONCE = Rule("altcha-used", 1, LIFETIME * 2)


def _secret(rt: Runtime) -> bytes:
    return rt.settings.derived_key("altcha")


def challenge(rt: Runtime, now: datetime) -> dict[str, Any]:
    made = altcha.create_challenge(
        ALGORITHM, COST, expires_at=int((now + LIFETIME).timestamp()), hmac_secret=_secret(rt)
    )
    result: dict[str, Any] = made.to_dict()
    return result


async def accept(rt: Runtime, payload: str, now: datetime) -> bool:
    try:
        verified = altcha.verify_solution(payload, _secret(rt))
    except Exception:
        return False
    if not getattr(verified, "verified", False):
        return False
    return await rt.limiter.hit(USED_ONCE, payload, now) == 1


# Every text the vendored widget (altcha 3.2.2) shows, by its key in the
# widget's own catalogue (``$altcha.i18n.set("en", {…})`` in the vendored file;
# tests/web/test_altcha_texts.py checks the two key sets agree). Attribute
# ``language`` names our catalogue to the widget, ``data-strings`` carries it,
# static/js/altcha-texts.js hands it over (no inline script: CSP).
WIDGET_TEXTS = {
    "ariaLinkLabel": N_("ALTCHA (official website)"),
    "cancel": N_("Cancel"),
    "enterCode": N_("Enter code"),
    "enterCodeAria": N_("Enter the code you hear. Press Space to play the audio."),
    "enterCodeFromImage": N_("To go on, enter the code from the image below."),
    "error": N_("The check failed. Try again later."),
    "expired": N_("The check expired. Try again."),
    "getAudioChallenge": N_("Get an audio challenge"),
    "label": N_("I'm not a robot"),
    "loading": N_("Loading…"),
    "reload": N_("Reload"),
    "verificationRequired": N_("Verification required!"),
    "verified": N_("Verified"),
    "verify": N_("Verify"),
    "verifying": N_("Verifying…"),
    "waitAlert": N_("Verifying… please wait."),
}
# The footer is HTML in the widget: our text is escaped, the link is ours.
FOOTER = N_("Protected by %(name)s")
FOOTER_LINK = Markup(
    '<a href="https://altcha.org/" tabindex="-1" target="_blank" rel="noopener">ALTCHA</a>'
)
# Shown by the browser when the form is sent before the check is done.
VALIDATION = N_("Please finish the check first.")


def widget(t: Translator) -> dict[str, Any]:
    """The widget's language, texts and configuration for a page in ``t``'s language."""
    strings = {key: t.gettext(msgid) for key, msgid in WIDGET_TEXTS.items()}
    strings["footer"] = str(escape(t.gettext(FOOTER)) % {"name": FOOTER_LINK})
    return {
        "language": t.html_lang.lower(),
        "strings": strings,
        "configuration": {"validationMessage": t.gettext(VALIDATION)},
    }
