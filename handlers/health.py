"""The health of what Surge keeps and sends: `failures` for managers and admins, and `trim`, which
the clock runs so that tables written on every delivery and every click don't grow forever.

A row fails for good after its last retry (a channel Surge was removed from, a person Teams can't
reach…). It is listed by `failures` and counted in /healthz until `trim` drops it after
`FAILED_KEPT`. What a message said is not shown (it may name a customer): only where it was going
and why it failed.

What `trim` keeps, and why:
- delivered outbox rows and their per-target records: `SENT_KEPT` (14 days), for looking back at
  what was sent; nothing reads them once delivered.
- replay keys of clicks, commands and re-deliveries: `REPLAY_KEPT` (1 day). Slack re-sends within
  its 5-minute signature window and retries within a minute, Teams within about 15 s: a day is far
  beyond both, and a replay within it still gets the first answer.
- the clock's send-once keys (`digest:`, `remind:`): `CLOCK_KEPT` (90 days), longer than any
  reminder's window (agreement expiry warnings start 30 days out), so a reminder is never re-sent
  because its key was trimmed.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import and_, delete, func, or_
from sqlmodel import Session, col, select

from handlers.common import session, when
from handlers.registry import command
from handlers.types import Context, Fact, Reply, Tone
from models.db import Database
from models.tables import OutboxDelivery, OutboxKind, OutboxMessage, OutboxStatus, ProcessedInteraction, Role

log = logging.getLogger("surge.health")

SHOWN = 15
SENT_KEPT = timedelta(days=14)
FAILED_KEPT = timedelta(days=30)
REPLAY_KEPT = timedelta(days=1)
CLOCK_KEPT = timedelta(days=90)
CLOCK_KEYS = ("digest:", "remind:")  # handlers.clock's send-once keys


class Failures(BaseModel):
    pass


@command("failures", summary="messages and cards Surge gave up delivering, and why", usage="failures",
         example="failures", roles={Role.MANAGER, Role.ADMIN}, who="managers, admins", reads_only=True)
def failures(cmd: Failures, ctx: Context) -> Reply:
    s = session(ctx)
    failed = OutboxMessage.status == OutboxStatus.FAILED
    total = s.exec(select(func.count()).select_from(OutboxMessage).where(failed)).one()
    if not total:
        return Reply(title="Delivery failures", text="Nothing failed for good: every message and card was delivered "
                     "or is still being retried.")
    rows = s.exec(select(OutboxMessage).where(failed).order_by(col(OutboxMessage.id).desc()).limit(SHOWN)).all()
    facts = [Fact(label=f"#{r.id} · {_what(r)}", value=f"{r.attempts} attempts, gave up {when(r.next_attempt_at, ctx.actor.timezone)}: "
                  f"{(r.last_error or 'no error recorded')[:160]}") for r in rows]
    more = f" (the newest {SHOWN} shown)" if total > SHOWN else ""
    return Reply(title="Delivery failures", tone=Tone.WARNING, fields=facts,
                 text=f"{total} message{'s' if total != 1 else ''} could not be delivered after every retry{more}. "
                 "Check that Surge is still in those channels (and, on Teams, that someone has @mentioned it there).")


def _what(row: OutboxMessage) -> str:
    p = row.payload
    where = p.get("_only") or {}
    target = f"person {where['person']}" if "person" in where else \
        f"{where['platform']} {where['channel']}" if where else ""
    if row.kind == OutboxKind.CARD:
        what = f"card for SR-{p.get('request_id')}"
    else:
        what = f"message to {p.get('audience', '?')}" + (f" about SR-{p['request_id']}" if p.get("request_id") else "")
    return f"{what}{' in ' + target if target else ''}"


def trim(db: Database, now: datetime) -> dict[str, int]:
    """Delete what is past keeping (see the module's notes); returns how many rows of each kind."""

    def work(s: Session) -> dict[str, int]:
        ob, pi = OutboxMessage, ProcessedInteraction
        clock_key = or_(*(col(pi.key).startswith(prefix) for prefix in CLOCK_KEYS))
        status, created, at = col(ob.status), col(ob.created_at), col(pi.at)
        gone = {
            "sent": s.exec(delete(ob).where(status == OutboxStatus.SENT, created < now - SENT_KEPT)).rowcount,
            "failed": s.exec(delete(ob).where(status == OutboxStatus.FAILED, created < now - FAILED_KEPT)).rowcount,
            "deliveries": s.exec(delete(OutboxDelivery).where(col(OutboxDelivery.at) < now - SENT_KEPT)).rowcount,
            "keys": s.exec(delete(pi).where(or_(
                and_(at < now - REPLAY_KEPT, ~clock_key), and_(at < now - CLOCK_KEPT, clock_key)))).rowcount,
        }
        return {k: v for k, v in gone.items() if v}

    gone = db.run(work)
    if gone:
        log.info("trimmed %s", ", ".join(f"{n} {what}" for what, n in gone.items()))
    return gone
