"""Supplier callbacks: verified, applied like any answer, always recorded.

Checks, in order: a supplier of that code; its signature (the supplier's
secret); a timestamp within ±5 minutes; a nonce not accepted before (a
replay); a final status; an attempt of ours under that order number. Only
then is the answer applied, under the order's row lock, with the guarded
attempt transitions: if a query answer got there first, the callback changes
nothing (``duplicate``, or ``conflict`` when it says otherwise, kept for the
operator). Nothing here raises for what a caller sends: the web edge answers
``success`` when the verdict is acknowledged, else a 400 ``fail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kameng.db.connection import Conn
from kameng.db.jobs import JobName, defer
from kameng.fulfilment.supply import repository as repo
from kameng.fulfilment.supply.config import SupplyConfig
from kameng.fulfilment.supply.engine import apply
from kameng.fulfilment.supply.protocol import Outcome
from kameng.fulfilment.supply.states import LIVE
from kameng.models.vocabulary import AttemptStatus, SupplierCallbackVerdict
from kameng.orders import repository as orders

V = SupplierCallbackVerdict
MAX_SKEW_SECONDS = 300
_ACKNOWLEDGED = frozenset({V.ACCEPTED, V.DUPLICATE, V.CONFLICT})
_FINAL_OF = {Outcome.SUCCEEDED: AttemptStatus.SUCCEEDED, Outcome.FAILED: AttemptStatus.FAILED}


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    verdict: SupplierCallbackVerdict
    detail: str

    @property
    def acknowledged(self) -> bool:
        return self.verdict in _ACKNOWLEDGED


class _Rejected(Exception):
    def __init__(self, verdict: SupplierCallbackVerdict, detail: str) -> None:
        self.verdict, self.detail = verdict, detail


async def handle_callback(
    conn: Conn,
    cfg: SupplyConfig,
    *,
    supplier_code: str,
    params: dict[str, str],
    raw_body: str,
    now: datetime,
) -> CallbackOutcome:
    request_no = params.get("out_order_no")
    nonce = params.get("nonce")
    attempt_id: int | None = None
    try:
        verdict, detail, attempt_id = await _judge(conn, cfg, supplier_code, params, now)
    except _Rejected as rejected:
        verdict, detail = rejected.verdict, rejected.detail
    stored = await repo.record_callback(
        conn,
        supplier_code=supplier_code,
        request_no=request_no,
        nonce=nonce if verdict in _ACKNOWLEDGED else None,
        raw_body=raw_body[:8000],
        verdict=verdict,
        detail=detail,
        attempt_id=attempt_id,
        now=now,
    )
    if not stored:  # the same nonce won a race with this one: a replay after all
        raise RuntimeError("replayed callback raced its original")
    return CallbackOutcome(verdict, detail)


async def _judge(
    conn: Conn, cfg: SupplyConfig, code: str, params: dict[str, str], now: datetime
) -> tuple[SupplierCallbackVerdict, str, int | None]:
    supplier = await repo.supplier_by_code(conn, code[:32])
    if supplier is None:
        raise _Rejected(V.UNKNOWN_SUPPLIER, f"no supplier {code[:32]!r}")
    endpoint = cfg.endpoint(
        supplier.code, supplier.base_url, supplier.merchant_id, supplier.secret_sealed
    )
    try:
        answer = cfg.adapter.verify_callback(endpoint, params)
    except Exception as exc:  # bad input never becomes a 5xx
        raise _Rejected(V.MALFORMED, f"unreadable: {type(exc).__name__}") from exc
    if answer is None:
        raise _Rejected(V.BAD_SIGNATURE, "signature or merchant id does not match")
    try:
        stamp = int(params.get("timestamp", ""))
    except ValueError:
        raise _Rejected(V.MALFORMED, "no timestamp") from None
    if abs(now.timestamp() - stamp) > MAX_SKEW_SECONDS:
        raise _Rejected(V.STALE_TIMESTAMP, f"timestamp {stamp} is not within 5 minutes")
    nonce = params.get("nonce", "")
    if not nonce or len(nonce) > 64:
        raise _Rejected(V.MALFORMED, "no nonce")
    if answer.outcome not in (Outcome.SUCCEEDED, Outcome.FAILED, Outcome.PROCESSING):
        raise _Rejected(V.MALFORMED, f"status {params.get('status', '')[:20]!r}")
    attempt = await repo.attempt_for_callback(conn, supplier.id, params.get("out_order_no", ""))
    if attempt is None:
        raise _Rejected(V.UNKNOWN_ORDER, "no attempt under that order number")
    # The order's lock serialises this callback with the engine and with its own replays.
    await orders.lock_by_id(conn, attempt.order_id)
    if await repo.nonce_seen(conn, supplier.code, nonce):
        raise _Rejected(V.REPLAYED_NONCE, f"nonce {nonce} was accepted before")
    current = await repo.attempt_by_id(conn, attempt.id)
    assert current is not None
    if current.status not in LIVE:
        same = _FINAL_OF.get(answer.outcome) == current.status
        return (
            (V.DUPLICATE, "already final", attempt.id)
            if same
            else (
                V.CONFLICT,
                f"attempt is {current.status}, callback says {answer.outcome}",
                attempt.id,
            )
        )
    following = await apply(
        conn, cfg, attempt.order_id, attempt.id, answer, via="callback", now=now
    )
    if following is not None:
        # What comes next (failover, the next check) runs on the worker, not here.
        await defer(conn, JobName.SUPPLY_ADVANCE, order_id=attempt.order_id)
    return V.ACCEPTED, str(answer.outcome), attempt.id
