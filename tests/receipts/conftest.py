from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kameng.receipts.mailer import SmtpMailer
from kameng.receipts.tasks import ReceiptConfig
from kameng.sandbox.mail import MailSink, smtp_server
from tests.support.live import free_port

SENDER = "shop@kameng.test"


@pytest.fixture
def sink() -> Iterator[tuple[MailSink, int]]:
    """A real SMTP server (the sink `kameng run` starts) on a free port."""
    mails = MailSink()
    port = free_port()
    with smtp_server(mails, "127.0.0.1", port):
        yield mails, port


def receipts_to(port: int, public_url: str = "http://shop.test") -> ReceiptConfig:
    mailer = SmtpMailer(host="127.0.0.1", port=port, sender=SENDER, starttls=False, timeout=5)
    return ReceiptConfig(mailer=mailer, public_url=public_url)


@pytest.fixture
def receipts_on(
    worker_runtime: Any, sink: tuple[MailSink, int], monkeypatch: pytest.MonkeyPatch
) -> MailSink:
    """The worker sends receipts to the sink."""
    monkeypatch.setattr(worker_runtime, "receipts", receipts_to(sink[1]))
    return sink[0]
