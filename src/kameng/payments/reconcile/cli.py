"""``kameng reconcile --channel C --date D``: run 对账 for one channel and day,
then show the run and every finding (kind, order, trade, our amount, the
gateway's amount, evidence as JSON). Exit 0 clean, 1 findings or the bill could
not be fetched, 2 bad input."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date

from kameng.config import Settings
from kameng.db.connection import make_pool, transaction
from kameng.db.embedded import resolve_database_url
from kameng.kit import clock
from kameng.kit.i18n import N_, Translator, locale_from_env, translator
from kameng.kit.money import format_yuan
from kameng.payments.channels.live import from_database
from kameng.payments.gateways.base import BillingGateway
from kameng.payments.reconcile import repository
from kameng.payments.reconcile.service import reconcile

NO_BILL = N_("Channel %(channel)s is not configured or has no bill to reconcile against")
BAD_DATE = N_("“%(value)s” is not a date (YYYY-MM-DD)")
SUMMARY = N_(
    "Reconciliation run %(run)s of %(channel)s for %(day)s: %(lines)s paid at the gateway, "
    "%(local)s recorded here, %(findings)s finding(s)"
)
FAILED = N_("The bill could not be fetched: %(error)s")


def reconcile_command(channel: str, day_text: str, settings: Settings) -> int:
    t = translator(locale_from_env())
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        _say(t(BAD_DATE, value=day_text))
        return 2
    url, server = resolve_database_url(settings.database_url, settings.data_dir)
    try:
        return asyncio.run(_run(url, settings, channel, day, t))
    finally:
        del server


async def _run(url: str, settings: Settings, channel: str, day: date, t: Translator) -> int:
    pool = make_pool(url, size=2)
    await pool.open()
    gateways = from_database(settings)  # the channels (kameng channel), as the worker has them
    try:
        await gateways.refresh_from(pool, max_age=0)
        gateway = gateways.get(channel)
        if not isinstance(gateway, BillingGateway):
            _say(t(NO_BILL, channel=channel))
            return 2
        run_id = await reconcile(pool, gateway, day, clock.now())
        async with transaction(pool) as conn:
            cur = await conn.execute(
                "SELECT gateway_lines, local_payments, error FROM reconciliation_runs "
                "WHERE id = %(r)s",
                {"r": run_id},
            )
            run = await cur.fetchone()
            findings = await repository.findings_of(conn, run_id)
    finally:
        await pool.close()
        for g in gateways.all():
            close = getattr(g, "aclose", None)
            if close is not None:
                await close()
    assert run is not None
    lines, local, error = run
    _say(t(SUMMARY, run=run_id, channel=channel, day=day.isoformat(), lines=lines,
           local=local, findings=len(findings)))  # fmt: skip
    if error:
        _say(t(FAILED, error=error))
        return 1
    for kind, order_no, trade_no, local_cents, gateway_cents, evidence in findings:
        amounts = [format_yuan(c) if c is not None else "-" for c in (local_cents, gateway_cents)]
        _say(f"  {kind}\t{order_no}\t{trade_no}\t{amounts[0]}\t{amounts[1]}")
        _say(f"    {json.dumps(evidence, ensure_ascii=False, sort_keys=True)}")
    return 1 if findings else 0


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")
