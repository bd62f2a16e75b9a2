"""A local SMTP sink (aiosmtpd) and a page listing what it received.

``kameng run`` starts it and points the shop's receipts at it, so the demo
shows every e-mail a buyer would get without sending any. Nothing leaves the
machine: the sink accepts every message, keeps the last ``KEEP`` in memory and
relays nothing.

Pages: ``GET /`` (newest first: time, to, subject, body), ``GET /messages``
(the same as JSON, for tests), ``DELETE /messages`` (forget them).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import escape
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response

KEEP = 500


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    received_at: str  # ISO 8601, UTC
    sender: str
    to: list[str]
    subject: str
    text: str
    html: str


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return ""
    content: str = part.get_content()
    return content.replace("\r\n", "\n")  # as written, not as it travelled


class MailSink:
    """aiosmtpd handler: every message accepted and kept (thread-safe: the SMTP
    server runs in a thread of its own)."""

    def __init__(self) -> None:
        self._mails: list[ReceivedMail] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        mail = ReceivedMail(
            received_at=datetime.now(UTC).isoformat(timespec="seconds"),
            sender=str(envelope.mail_from),
            to=[str(r) for r in envelope.rcpt_tos],
            subject=str(message.get("Subject", "")),
            text=_part(message, "plain"),
            html=_part(message, "html"),
        )
        with self._lock:
            self._mails.append(mail)
            del self._mails[:-KEEP]
        return "250 Message accepted for delivery"

    def mails(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._mails)

    def clear(self) -> None:
        with self._lock:
            self._mails.clear()


@contextmanager
def smtp_server(sink: MailSink, host: str, port: int) -> Iterator[Controller]:
    """The SMTP side, listening on ``host:port`` until the block ends."""
    controller = Controller(sink, hostname=host, port=port)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def _page(mails: list[ReceivedMail]) -> str:
    rows = []
    for mail in reversed(mails):
        rows.append(
            "<article>"
            f"<h2>{escape(mail.subject)}</h2>"
            f"<p class=meta>{escape(mail.received_at)} · to {escape(', '.join(mail.to))}"
            f" · from {escape(mail.sender)}</p>"
            f"<pre>{escape(mail.text)}</pre>"
            f"<details><summary>HTML</summary><pre>{escape(mail.html)}</pre></details>"
            "</article>"
        )
    body = "\n".join(rows) or "<p>No e-mail yet. / 还没有邮件。</p>"
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Mail sink / 邮件沙箱</title><style>"
        "body{font:15px/1.5 sans-serif;max-width:760px;margin:0 auto;padding:12px}"
        "article{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:12px 0}"
        "h2{font-size:17px;margin:4px 0}.meta{color:#666;font-size:13px;margin:0}"
        "pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:8px}"
        "</style></head><body>"
        f"<h1>Mail sink / 邮件沙箱 ({len(mails)})</h1>{body}</body></html>"
    )


def create_app(sink: MailSink, *, smtp: tuple[str, int] | None = None) -> FastAPI:
    """The page; with ``smtp`` (host, port) the SMTP side runs as long as the app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if smtp is None:
            yield
            return
        with smtp_server(sink, *smtp):
            yield

    app = FastAPI(title="kameng mail sink", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(_page(sink.mails()), headers={"Cache-Control": "no-store"})

    @app.get("/messages")
    async def messages() -> JSONResponse:
        return JSONResponse([asdict(m) for m in sink.mails()])

    @app.delete("/messages")
    async def forget() -> Response:
        sink.clear()
        return Response(status_code=204)

    return app
