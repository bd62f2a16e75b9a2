"""Sending one e-mail over SMTP (``KAMENG_SMTP_*``; off unless host and sender are set)."""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Protocol

from kameng.config import Settings


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str


class MailNotSent(Exception):
    """The server could not be reached or refused the mail: retry later."""


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None:
        """Hand ``mail`` to the server, or raise MailNotSent."""


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer | None:
        """None (receipts off) unless a server and a sender address are configured."""
        if not settings.smtp_host or not settings.smtp_from:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user or None,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )

    async def send(self, mail: Mail) -> None:
        try:
            await asyncio.to_thread(self._send, mail)
        except (OSError, smtplib.SMTPException) as exc:
            # The reason names the failure, never the credentials.
            raise MailNotSent(f"{type(exc).__name__}: {exc}"[:300]) from exc

    def _send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["Subject"] = mail.subject
        message["From"] = formataddr(("kameng", self.sender))
        message["To"] = mail.to
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)
