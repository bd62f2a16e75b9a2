"""Which receipt a timeline event asks for, and claiming it for sending.

Services take the connection and never commit: the job commits the claim
before it calls the mail server, and records the outcome afterwards.
"""

from __future__ import annotations

import re
from datetime import datetime

from kameng.db.connection import Conn
from kameng.kit.i18n import translator
from kameng.models.vocabulary import MailState, OrderEventType, ReceiptKind
from kameng.receipts import repository
from kameng.receipts.mailer import Mail
from kameng.receipts.messages import ReceiptFacts, compose

# Every event the trigger of migration 0019 defers a receipt job for.
EVENT_KINDS: dict[OrderEventType, ReceiptKind] = {
    OrderEventType.CREATED: ReceiptKind.CREATED,
    OrderEventType.DELIVERED: ReceiptKind.DELIVERED,
    OrderEventType.TOPPED_UP: ReceiptKind.DELIVERED,
    OrderEventType.MANUAL_DELIVERED: ReceiptKind.DELIVERED,
    OrderEventType.REFUND_SUCCEEDED: ReceiptKind.REFUNDED,
}

# A contact is "an e-mail" when it looks like one address; a phone number never does.
_EMAIL = re.compile(r"[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"'.]{2,}")


def is_email(contact: str | None) -> bool:
    return contact is not None and _EMAIL.fullmatch(contact.strip()) is not None


async def claim_receipt(
    conn: Conn, event_id: int, *, public_url: str, now: datetime
) -> Mail | None:
    """The mail to send for this event, claimed for the caller; None when the
    event asks for no mail (no e-mail contact, not a receipt event) or the mail
    was sent (or is being sent) already."""
    source = await repository.source_of(conn, event_id)
    if source is None or not is_email(source.contact):
        return None
    kind = EVENT_KINDS.get(source.event_type)
    if kind is None:
        return None
    assert source.contact is not None  # is_email
    base = public_url.rstrip("/")
    refunded = source.event_params.get("amount_cents", 0)
    facts = ReceiptFacts(
        kind=kind,
        to=source.contact.strip(),
        order_no=source.order_no,
        product_name=source.product_name,
        quantity=source.quantity,
        amount_cents=source.amount_cents,
        refunded_cents=refunded if isinstance(refunded, int) else 0,
        order_url=f"{base}/o/{source.order_no}",
        query_url=f"{base}/query",
    )
    t = translator(source.locale)
    mail = compose(facts, t)
    claimed = await repository.claim(
        conn,
        event_id=event_id,
        order_id=source.id,
        kind=kind,
        recipient=mail.to,
        locale=t.locale,
        subject=mail.subject,
        now=now,
    )
    return mail if claimed else None


async def record_sent(conn: Conn, event_id: int, *, now: datetime) -> None:
    await repository.mark(conn, event_id, MailState.SENT, now=now)


async def record_failure(conn: Conn, event_id: int, error: str, *, now: datetime) -> None:
    """The mail did not go out: the row may be claimed again by the job's retry."""
    await repository.mark(conn, event_id, MailState.FAILED, now=now, error=error)
