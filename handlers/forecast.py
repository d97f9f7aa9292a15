"""Forecast-driven widening: a request claimed too slowly to fill by its deadline is offered to the
next tier now, instead of after its tier delay.

The rule, in one sentence a dispatcher can check by hand: **the pace so far goes on**. The pace is
the units held by live claims now (`units_taken`, so a released claim does not count) divided by the
time since the request was posted; the projection adds that pace times the time left to the deadline:

    more  = units_taken × (deadline − now) ÷ (now − posted)      (rounded down)
    short = units_left − more                                    (at least 0)

A request posted at 09:00 with 4 of 40 units claimed by 10:00 and due at 17:00 the next day (31 h
away) is projected to get 4 × 31 = 124 more: not short. Had it 1 unit claimed, it gets 31 more and
is 8 short: it is widened now.

No judgement without evidence: a request is judged only once it was posted at least `EVIDENCE` ago
**and** it has been offered at its current tier for at least `EVIDENCE` (the latest
`request.widened` entry), so a request posted a minute ago is never judged, and a request just
widened (by the timer, a dispatcher or a forecast) gets time to draw claims at its new tier before
it is judged again. A request with no claims at all after the evidence window is projected to get
0 more, so it is short by all its units.

Widening goes through `handlers.clock.widen_to` (the one way to widen), at most once per tier step:
the key `forecast:<request>:<tier>` is recorded in the same transaction as the widening, so two
schedulers never both do it. The timers stay the floor (`handlers.clock.widen_tiers` still widens on
time); a forecast never widens past the highest tier that exists, nor a request that is full,
closed or past its deadline. The digest shows the same projection for each open request that is
projected short (`projection_fact`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from handlers.common import plural, when
from handlers.core import enqueue
from handlers.followups import folded
from handlers.types import Audience, Fact, Message, Tone
from models.db import Database
from models.tables import AuditEntry, ProcessedInteraction, RequestStatus, SurgeRequest, pk

EVIDENCE = timedelta(minutes=30)
OPEN = (RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED)


@dataclass(frozen=True)
class Projection:
    """Where a request's claims are heading at its pace so far."""

    request_id: int
    ref: str
    title: str
    units: int
    taken: int
    more: int  # units projected to be claimed between now and the deadline
    short: int  # units projected to be left unclaimed at the deadline
    deadline: datetime
    visible_tier: int


def project(req: SurgeRequest, now: datetime, offered_since: datetime | None = None) -> Projection | None:
    """The projection at `now`, or None when there is not enough evidence yet (or nothing to project)."""
    offered_since = max(offered_since or req.created_at, req.created_at)
    if req.status not in OPEN or now >= req.deadline or now - offered_since < EVIDENCE:
        return None
    elapsed = (now - req.created_at).total_seconds()
    ahead = (req.deadline - now).total_seconds()
    more = int(req.units_taken * ahead // elapsed)
    return Projection(request_id=pk(req), ref=req.ref, title=req.title, units=req.units, taken=req.units_taken,
                      more=more, short=max(0, req.units_left - more), deadline=req.deadline,
                      visible_tier=req.visible_tier)


def _last_widened(s: Session, request_ids: list[int]) -> dict[int, datetime]:
    if not request_ids:
        return {}
    rows = s.exec(select(AuditEntry.request_id, func.max(AuditEntry.at)).where(
        AuditEntry.action == "request.widened", col(AuditEntry.request_id).in_(request_ids))
        .group_by(col(AuditEntry.request_id))).all()
    return {rid: at for rid, at in rows if rid is not None}  # none is: the ids were asked for


def projected_short(*, session: Session, now: datetime) -> list[Projection]:
    """Every open request projected to be left with unclaimed units at its deadline, soonest first."""
    reqs = session.exec(select(SurgeRequest).where(col(SurgeRequest.status).in_(OPEN), SurgeRequest.deadline > now)
                        .order_by(col(SurgeRequest.deadline), col(SurgeRequest.id))).all()
    widened = _last_widened(session, [pk(r) for r in reqs])
    out = [project(r, now, widened.get(pk(r))) for r in reqs]
    return [p for p in out if p is not None and p.short > 0]


# -- the clock ----------------------------------------------------------------------------------

def forecast_widen(db: Database, now: datetime, home_tz: str = "UTC") -> list[str]:
    """Widen each open request projected short to its next tier now; returns the keys of what it did."""
    from handlers.clock import _next_tier, _tiers  # the clock imports this module

    def candidates(s: Session) -> list[int]:
        tiers = _tiers(s)
        return [p.request_id for p in projected_short(session=s, now=now) if _next_tier(tiers, p.visible_tier)]

    done = []
    for rid in db.read(candidates):
        try:
            key = db.run(partial(_widen_one, rid=rid, now=now, home_tz=home_tz))
        except IntegrityError:
            key = None  # another scheduler recorded the same step first
        if key:
            done.append(key)
    return done


def _widen_one(s: Session, rid: int, now: datetime, home_tz: str) -> str | None:
    from handlers.clock import _next_tier, _tiers, widen_to

    req = s.exec(select(SurgeRequest).where(SurgeRequest.id == rid).with_for_update()
                 .execution_options(populate_existing=True)).one()
    nxt = _next_tier(_tiers(s), req.visible_tier)
    p = project(req, now, _last_widened(s, [rid]).get(rid))
    if nxt is None or p is None or p.short <= 0:
        return None  # widened meanwhile (timer, dispatcher, another scheduler), filled up, or closed
    key = f"forecast:{rid}:{nxt}"
    if s.get(ProcessedInteraction, key) is not None:
        return None
    s.add(ProcessedInteraction(key=key, at=now))
    s.flush()  # a second scheduler inserting the same key fails here: one widening per tier step
    reply = widen_to(s, req, nxt, now)
    s.add(AuditEntry(at=now, action="request.forecast_widened", request_id=rid, units=p.short, detail={
        "to_tier": nxt, "taken": p.taken, "projected_more": p.more, "projected_short": p.short}))
    enqueue(s, reply.tell(Message(audience=Audience.DISPATCH, request_id=rid, tone=Tone.WARNING, text=(
        f"📉 {req.ref} · {req.title}: {plural(p.taken, 'unit')} claimed since it was posted. "
        f"At this rate {p.short} of {plural(p.units, 'unit')} will be left on {when(p.deadline, home_tz)}; "
        f"offered to tier {nxt} now."))))
    return key


# -- the digest ---------------------------------------------------------------------------------

def projection_line(p: Projection, tz) -> str:
    return (f"• {p.ref} · {p.title}: {p.taken} of {p.units} claimed; at this rate {p.short} left on "
            f"{when(p.deadline, tz)} (offered to tier {p.visible_tier})")


def projection_fact(*, session: Session, now: datetime, tz) -> Fact | None:
    """The digest's "Projected short" section, when any request is: the soonest five, then how many more."""
    short = projected_short(session=session, now=now)
    if not short:
        return None
    return Fact(label=f"Projected short at this rate ({len(short)})",
                value=folded([projection_line(p, tz).removeprefix("• ") for p in short], "list"))
