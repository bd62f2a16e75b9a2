"""The ALTCHA widget speaks the page's language: every text it can show comes
from our catalogues (web/captcha.py), carried in the page, none left English
on a Chinese page."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

from kameng.config import PROJECT_ROOT
from kameng.kit.i18n import Translator, translator
from kameng.web import captcha
from tests.factories import Sessions

VENDORED = PROJECT_ROOT / "src/kameng/web/static/vendor/altcha/altcha-3.2.2.min.js"
LINK = '<a href="https://altcha.org/" tabindex="-1" target="_blank" rel="noopener">ALTCHA</a>'


def vendored_english() -> dict[str, str]:
    """The widget's own English catalogue, as the vendored file sets it."""
    source = VENDORED.read_text()
    body = re.search(r'\$altcha\.i18n\.set\("en",\{(.*?)\}\);', source)
    assert body is not None
    pairs = re.findall(r"(\w+):(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')", body.group(1))
    return {key: value[1:-1].replace("\\'", "'") for key, value in pairs}


def test_every_text_of_the_vendored_widget_has_a_catalogue_entry() -> None:
    english = vendored_english()
    assert len(english) == 17 and english["label"] == "I'm not a robot"
    assert set(captcha.widget(translator("zh_CN"))["strings"]) == set(english)


def test_a_chinese_page_gets_chinese_texts_and_an_english_page_english() -> None:
    zh = captcha.widget(translator("zh_CN"))
    assert zh["language"] == "zh-cn"
    assert zh["configuration"] == {"validationMessage": "请先完成人机验证。"}
    strings = zh["strings"]
    assert (strings["label"], strings["verifying"], strings["verified"]) == (
        "我不是机器人",
        "验证中…",
        "已验证",
    )
    assert strings["error"] == "验证失败，请稍后再试。"
    assert strings["footer"] == f"由 {LINK} 提供保护"
    english = vendored_english()
    assert [k for k, v in strings.items() if v == english[k]] == []  # nothing left in English

    en = captcha.widget(translator("en"))
    assert en["language"] == "en"
    assert (en["strings"]["label"], en["strings"]["verified"]) == ("I'm not a robot", "Verified")
    assert en["strings"]["footer"] == f"Protected by {LINK}"
    assert en["configuration"] == {"validationMessage": "Please finish the check first."}


class _Hostile(Translator):
    """A catalogue whose translation carries markup (a bad translator's typo)."""

    def gettext(self, msgid: str) -> str:
        return '<img src=x onerror="alert(1)"> %(name)s' if "%(name)s" in msgid else msgid


def test_the_footer_is_html_only_in_the_link_we_put_there() -> None:
    footer = captcha.widget(_Hostile("en"))["strings"]["footer"]
    assert footer == f"&lt;img src=x onerror=&#34;alert(1)&#34;&gt; {LINK}"


def _widget_of(page: str) -> dict[str, Any]:
    tag = re.search(r"<altcha-widget [^>]*>", page)
    assert tag is not None
    attrs: dict[str, str] = {}
    for name, double, single in re.findall(r'([\w-]+)=(?:"([^"]*)"|\'([^\']*)\')', tag.group(0)):
        attrs[name] = html.unescape(double or single)
    return {
        "language": attrs["language"],
        "strings": json.loads(attrs["data-strings"]),
        "configuration": json.loads(attrs["configuration"]),
    }


async def test_the_refused_lookup_page_carries_the_texts_of_its_language(
    client: httpx.AsyncClient, db: Sessions
) -> None:
    for i in range(5):
        await client.get("/query", params={"q": f"9{i}"})
    page = await client.get("/query", params={"q": "99"})
    assert page.status_code == 429
    assert _widget_of(page.text) == captcha.widget(translator("zh_CN"))
    assert '<script type="module" src="/static/js/altcha-texts.js"></script>' in page.text
    english = await client.get("/query", params={"q": "99", "lang": "en"})
    assert english.status_code == 429
    assert _widget_of(english.text) == captcha.widget(translator("en"))
    script = await client.get("/static/js/altcha-texts.js")
    assert script.status_code == 200
    assert 'import "/static/vendor/altcha/altcha-3.2.2.min.js";' in script.text
    # Nothing the widget does runs inline: the CSP still forbids it.
    assert "script-src 'self';" in page.headers["content-security-policy"]


async def test_a_page_without_the_check_carries_no_widget(
    client: httpx.AsyncClient, db: Sessions
) -> None:
    page = await client.get("/query", params={"q": "90"})
    assert page.status_code == 200
    assert "altcha" not in page.text
