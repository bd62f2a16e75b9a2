"""The receipt job, deferred by the trigger of migration 0019 in the transaction
that appended the timeline event (ids only: the event's).

At most once: the job claims the event's ``receipt_mails`` row and commits
before it calls the mail server, with no lock held, then marks the row sent.
A refused or unreachable server marks it failed and raises, and procrastinate
retries with exponential back-off (4 s, 16 s, … about a day in all); the retry
claims the failed row again. A crash between the SMTP call and the mark leaves
the row ``sending``: never sent twice, at worst not at all (the row says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import structlog
from procrastinate import JobContext, RetryStrategy
from psycopg_pool import AsyncConnectionPool

from kameng.db.connection import Conn, transaction
from kameng.db.jobs import JobName, app, deps
from kameng.kit import clock
from kameng.receipts import service
from kameng.receipts.mailer import Mailer, MailNotSent

log = structlog.get_logger("kameng.receipts")

RETRY = RetryStrategy(max_attempts=8, exponential_wait=4, retry_exceptions={MailNotSent})


@dataclass(frozen=True)
class ReceiptConfig:
    mailer: Mailer
    public_url: str  # links in the mail point here


class ReceiptJobDeps(Protocol):
    @property
    def pool(self) -> AsyncConnectionPool[Conn]: ...

    @property
    def receipts(self) -> ReceiptConfig | None: ...


@app.task(name=JobName.SEND_RECEIPT.value, queue="mail", pass_context=True, retry=RETRY)
async def send_receipt(context: JobContext, event_id: int) -> None:
    needs: ReceiptJobDeps = deps(context)
    config = needs.receipts
    if config is None:
        return  # receipts are off (no SMTP server configured)
    async with transaction(needs.pool) as conn:
        mail = await service.claim_receipt(
            conn, event_id, public_url=config.public_url, now=clock.now()
        )
    if mail is None:
        return
    try:
        await config.mailer.send(mail)
    except MailNotSent as exc:
        async with transaction(needs.pool) as conn:
            await service.record_failure(conn, event_id, str(exc), now=clock.now())
        log.warning("receipt not sent, retrying later", event_id=event_id, error=str(exc))
        raise
    async with transaction(needs.pool) as conn:
        await service.record_sent(conn, event_id, now=clock.now())
