"""The supply attempt state machine: the only code that changes ``supply_attempts.status``.

created → sent → succeeded | failed | unknown; unknown → succeeded | failed;
created → failed (refused before anything was bought). Each change is one
guarded ``UPDATE … WHERE status = ANY(sources)``: a callback and a query
answer racing for the same attempt end in one outcome, the second finds the
row already moved and changes nothing (``transition`` returns False).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from kameng.db.connection import Conn, fetch_one
from kameng.models.vocabulary import AttemptStatus

ALLOWED: dict[AttemptStatus, frozenset[AttemptStatus]] = {
    AttemptStatus.CREATED: frozenset({AttemptStatus.SENT, AttemptStatus.FAILED}),
    # SENT → SENT: still processing (a check done, the next one scheduled).
    AttemptStatus.SENT: frozenset(
        {AttemptStatus.SENT, AttemptStatus.SUCCEEDED, AttemptStatus.FAILED, AttemptStatus.UNKNOWN}
    ),
    AttemptStatus.UNKNOWN: frozenset(
        {
            AttemptStatus.UNKNOWN,
            AttemptStatus.SENT,
            AttemptStatus.SUCCEEDED,
            AttemptStatus.FAILED,
        }
    ),
    AttemptStatus.SUCCEEDED: frozenset(),
    AttemptStatus.FAILED: frozenset(),
}
FINAL = frozenset(s for s, targets in ALLOWED.items() if not targets)
LIVE = frozenset(AttemptStatus) - FINAL


def sources_of(target: AttemptStatus) -> list[str]:
    return sorted(s.value for s, targets in ALLOWED.items() if target in targets)


def can_transition(source: AttemptStatus, target: AttemptStatus) -> bool:
    return target in ALLOWED[source]


_SQL = """
    UPDATE supply_attempts SET status = %(to)s, updated_at = %(now)s,
        sent_at = CASE WHEN %(is_sent)s THEN COALESCE(sent_at, %(now)s) ELSE sent_at END,
        finished_at = CASE WHEN %(final)s THEN %(now)s ELSE finished_at END,
        supplier_order_no = COALESCE(%(supplier_order_no)s, supplier_order_no),
        error = COALESCE(%(error)s, error),
        refused = refused OR %(refused)s,
        retry_after = COALESCE(%(retry_after)s, retry_after),
        result = result || %(result)s,
        checks = checks + %(checked)s,
        next_check_at = %(next_check_at)s
    WHERE id = %(id)s AND status = ANY(%(sources)s)
    RETURNING id
"""
_SOURCES = {t: sources_of(t) for t in AttemptStatus}


async def transition(
    conn: Conn,
    *,
    attempt_id: int,
    to: AttemptStatus,
    now: datetime,
    supplier_order_no: str | None = None,
    error: str | None = None,
    refused: bool = False,
    retry_after: datetime | None = None,
    result: dict[str, Any] | None = None,
    checked: bool = False,
    next_check_at: datetime | None = None,
) -> bool:
    """Move the attempt to ``to``; False when it was not in a state that may go there."""
    moved = await fetch_one(
        conn,
        _SQL,
        {
            "to": to.value,
            "now": now,
            "final": to in FINAL,
            "is_sent": to == AttemptStatus.SENT,
            "supplier_order_no": supplier_order_no,
            "error": error,
            "refused": refused,
            "retry_after": retry_after,
            "result": Jsonb(result or {}),
            "checked": 1 if checked else 0,
            "next_check_at": None if to in FINAL else next_check_at,
            "id": attempt_id,
            "sources": _SOURCES[to],
        },
    )
    return moved is not None
