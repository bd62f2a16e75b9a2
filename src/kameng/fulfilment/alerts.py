"""Alerts to the shop's operators (an order past its deadline, …).

Channels: the log (always) and e-mail over SMTP (``KAMENG_SMTP_HOST`` and
``KAMENG_ALERT_EMAIL_TO`` set; otherwise a no-op). Alerts are sent after the
transaction that decided them has committed, never under a row lock.
"""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import structlog

log = structlog.get_logger("kameng.alerts")


@dataclass(frozen=True, slots=True)
class Alert:
    subject: str
    body: str
    order_no: str | None = None


class AlertChannel(Protocol):
    async def send(self, alert: Alert) -> None: ...


class LogAlerts:
    async def send(self, alert: Alert) -> None:
        log.warning("alert", subject=alert.subject, body=alert.body, order_no=alert.order_no)


@dataclass(frozen=True)
class EmailAlerts:
    host: str | None
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = None
    starttls: bool = True

    @property
    def configured(self) -> bool:
        return bool(self.host and self.recipients)

    async def send(self, alert: Alert) -> None:
        if not self.configured:
            return
        try:
            await asyncio.to_thread(self._send, alert)
        except (OSError, smtplib.SMTPException) as exc:
            # An alert that cannot go out must not stop the sweep; the log has it.
            log.error("alert e-mail failed", error=type(exc).__name__, order_no=alert.order_no)

    def _send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(alert.body)
        assert self.host is not None
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


@dataclass(frozen=True)
class Alerts:
    channels: tuple[AlertChannel, ...] = (LogAlerts(),)

    async def send(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            for channel in self.channels:
                await channel.send(alert)
