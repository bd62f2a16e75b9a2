"""Receipt SQL: what a receipt says (one read) and the row that makes sending
happen at most once (claimed before the SMTP call, marked after it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kameng.db.connection import Conn, execute, fetch_one, fetch_one_as
from kameng.db.rows import row_of
from kameng.models.vocabulary import MailState, OrderEventType, ReceiptKind


@row_of(
    "orders",
    event_type="order_events.type",
    event_params="order_events.params",
    product_name="products.name",
)
@dataclass(frozen=True, slots=True)
class ReceiptSource:
    id: int  # the order's
    order_no: str
    contact: str | None
    locale: str | None
    quantity: int
    amount_cents: int
    product_name: str
    event_type: OrderEventType
    event_params: dict[str, Any]


_SOURCE = """
    SELECT o.id, o.order_no, o.contact, o.locale, o.quantity, o.amount_cents,
        p.name AS product_name, e.type AS event_type, e.params AS event_params
    FROM order_events e
    JOIN orders o ON o.id = e.order_id
    JOIN products p ON p.id = o.product_id
    WHERE e.id = %(event_id)s
"""


async def source_of(conn: Conn, event_id: int) -> ReceiptSource | None:
    return await fetch_one_as(conn, ReceiptSource, _SOURCE, {"event_id": event_id})


# A new row, or a failed one taken again; a row being sent or sent stays as it is.
_CLAIM = f"""
    INSERT INTO receipt_mails (event_id, order_id, kind, recipient, locale, subject,
        state, attempts, created_at, updated_at)
    VALUES (%(event_id)s, %(order_id)s, %(kind)s, %(recipient)s, %(locale)s, %(subject)s,
        '{MailState.SENDING}', 1, %(now)s, %(now)s)
    ON CONFLICT (event_id) DO UPDATE SET
        state = '{MailState.SENDING}', attempts = receipt_mails.attempts + 1,
        recipient = EXCLUDED.recipient, subject = EXCLUDED.subject, updated_at = EXCLUDED.updated_at
    WHERE receipt_mails.state = '{MailState.FAILED}'
    RETURNING attempts
"""


async def claim(
    conn: Conn,
    *,
    event_id: int,
    order_id: int,
    kind: ReceiptKind,
    recipient: str,
    locale: str,
    subject: str,
    now: datetime,
) -> bool:
    """True when this caller may send the mail (nobody sent or is sending it)."""
    row = await fetch_one(
        conn,
        _CLAIM,
        {
            "event_id": event_id,
            "order_id": order_id,
            "kind": kind.value,
            "recipient": recipient,
            "locale": locale,
            "subject": subject,
            "now": now,
        },
    )
    return row is not None


async def mark(
    conn: Conn, event_id: int, state: MailState, *, now: datetime, error: str | None = None
) -> None:
    await execute(
        conn,
        f"UPDATE receipt_mails SET state = %(state)s::text, updated_at = %(now)s, "
        f"last_error = COALESCE(%(error)s, last_error), "
        f"sent_at = CASE WHEN %(state)s::text = '{MailState.SENT}' THEN %(now)s ELSE sent_at END "
        f"WHERE event_id = %(event_id)s AND state = '{MailState.SENDING}'",
        {"event_id": event_id, "state": state.value, "now": now, "error": error},
    )
