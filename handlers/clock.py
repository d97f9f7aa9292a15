"""What the clock does, platform-neutral: digests at 08:00 local, reminders, tier widening.

`run_due(db, now)` may run any number of times, from any number of schedulers: every send is
recorded under a unique key (`ProcessedInteraction`) in the same transaction as the outbox rows
that carry it, so a second scheduler, a restart or a catch-up never sends twice. Whatever is due
and not yet sent is sent, so a scheduler that was down over 08:00 sends the digest when it returns.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from handlers.common import home_zone, plural, reader_zone, when
from handlers.contracts import current_agreement
from handlers.core import enqueue
from handlers.digest import SharedFigures, digest_for, manager_zone
from handlers.followups import overdue_problems, problem_reminder
from handlers.forecast import forecast_widen
from handlers.month_report import month_reports_due
from handlers.types import Action, ActionKind, Audience, CardChange, Message, Reply, Tone
from models.db import Database
from models.tables import (
    AuditEntry,
    Channel,
    ChannelPurpose,
    Claim,
    ClaimStatus,
    Org,
    OrgKind,
    Person,
    ProcessedInteraction,
    RequestStatus,
    Role,
    Signature,
    SurgeRequest,
    pk,
)

log = logging.getLogger("surge.clock")

DIGEST_AT = time(8, 0)
UNCLAIMED_HOURS = (24, 48)  # tightest first
NOT_STARTED_HOURS = 24
EXPIRY_DAYS = (1, 7, 30)  # tightest first
VERIFY_WAIT = timedelta(hours=24)


@dataclass(frozen=True)
class Due:
    """One thing to send once: its keys (all recorded; the first one must be new) and its reply."""

    keys: tuple[str, ...]
    build: Callable[[Session], Reply]


def run_due(db: Database, now: datetime, *, home_timezone: str = "UTC") -> list[str]:
    """Send everything due at `now`; returns the keys of what this call sent."""
    sent: list[str] = []
    home_timezone = db.read(lambda s: home_zone(s, home_timezone))
    for finder in (digests, unclaimed_units, not_started, expiring_agreements, waiting_verification,
                   open_problems):
        for due in db.run(partial(_found, finder, now, home_timezone)):
            if _send_once(db, due, now):
                sent.append(due.keys[0])
    for key, build in db.run(lambda s: list(month_reports_due(s, now, home_timezone))):
        if _send_once(db, Due(keys=(key,), build=build), now):  # the 1st, 08:00: month reports, statements
            sent.append(key)
    sent += widen_tiers(db, now)
    sent += forecast_widen(db, now, home_timezone)  # sooner than the timer when claims come too slowly
    sent += expire(db, now)
    return sent


def _send_once(db: Database, due: Due, now: datetime) -> bool:
    def work(s: Session) -> bool:
        if s.get(ProcessedInteraction, due.keys[0]) is not None:
            return False
        # The first key is always inserted, never re-checked: another scheduler may commit it between
        # the look above and here, and only the insert itself (a primary key) decides who sends.
        s.add(ProcessedInteraction(key=due.keys[0], at=now))
        for key in due.keys[1:]:
            if s.get(ProcessedInteraction, key) is None:
                s.add(ProcessedInteraction(key=key, at=now))
        s.flush()  # another scheduler inserting the same key waits here, then fails: one send
        reply = due.build(s)
        enqueue(s, reply)
        s.add(AuditEntry(at=now, action="clock.sent", detail={"key": due.keys[0]}))
        return True

    try:
        return db.run(work)
    except IntegrityError:
        return False


def _found(finder: Callable[[Session, datetime, str], Iterator[Due]], now: datetime, home_tz: str,
           s: Session) -> list[Due]:
    return list(finder(s, now, home_tz))


# -- the daily digest ---------------------------------------------------------------------------

def digests(s: Session, now: datetime, home_tz: str) -> Iterator[Due]:
    # The org-wide figures (and those of a time zone's yesterday and month) are computed by the first
    # digest of this tick that needs them and reused by the others: every manager's digest used to
    # recompute them all (20 managers, 20 times the same aggregates over every claim).
    shared = SharedFigures()
    for person in s.exec(select(Person).order_by(col(Person.id))).all():
        if Role.MANAGER not in person.roles:
            continue
        _, tz_name = manager_zone(s, pk(person))
        local = now.astimezone(ZoneInfo(tz_name))
        if local.time() < DIGEST_AT:
            continue  # not 08:00 yet where this manager is
        day = local.date()

        def build(session: Session, pid=person.id, day=day) -> Reply:
            reply = digest_for(session=session, manager_id=pid, day=day, now=now, shared=shared)
            message = Message(audience=Audience.DM, person_id=pid, title=reply.title, text=reply.text,
                              fields=reply.fields, tone=reply.tone, chart=reply.chart, private=True)
            copies = [message]
            if session.exec(select(Channel).where(Channel.purpose == ChannelPurpose.MANAGERS)).first() and \
                    pid == shared.get(("first manager",), lambda: _first_manager(session)):
                copies.append(message.model_copy(update={"audience": Audience.MANAGERS, "person_id": None}))
            return Reply(text="", messages=copies)

        yield Due(keys=(f"digest:{person.id}:{day.isoformat()}",), build=build)


def _first_manager(s: Session) -> int | None:
    """The managers channel gets one copy a day: the first manager's."""
    for p in s.exec(select(Person).order_by(col(Person.id))).all():
        if Role.MANAGER in p.roles:
            return p.id
    return None


# -- reminders ----------------------------------------------------------------------------------

def _live_requests(s: Session, now: datetime, within: timedelta):
    return s.exec(select(SurgeRequest).where(
        col(SurgeRequest.status).in_([RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED, RequestStatus.FULLY_CLAIMED]),
        SurgeRequest.deadline > now, SurgeRequest.deadline <= now + within)).all()


def unclaimed_units(s: Session, now: datetime, home_tz: str) -> Iterator[Due]:
    for req in _live_requests(s, now, timedelta(hours=max(UNCLAIMED_HOURS))):
        if req.units_left <= 0:
            continue
        left = req.deadline - now
        crossed = [h for h in UNCLAIMED_HOURS if left <= timedelta(hours=h)]
        keys = tuple(f"remind:unclaimed:{req.id}:{h}h" for h in crossed)

        def build(session: Session, rid=req.id, hours=crossed[0]) -> Reply:
            r = session.get_one(SurgeRequest, rid)
            return Reply(text="", messages=[Message(
                audience=Audience.DISPATCH, request_id=rid, tone=Tone.WARNING,
                text=f"⏰ {r.ref} · {r.title}: {plural(r.units_left, 'unit')} still unclaimed, due within "
                f"{hours} h ({when(r.deadline, home_tz)}). Widen it, call a partner, or staff it in-house.")])

        yield Due(keys=keys, build=build)


def not_started(s: Session, now: datetime, home_tz: str) -> Iterator[Due]:
    rows = s.exec(select(Claim, SurgeRequest).where(
        Claim.request_id == SurgeRequest.id, Claim.status == ClaimStatus.ACTIVE,
        SurgeRequest.deadline > now, SurgeRequest.deadline <= now + timedelta(hours=NOT_STARTED_HOURS))).all()
    for claim, _req in rows:
        def build(session: Session, cid=claim.id) -> Reply:
            c = session.get_one(Claim, cid)
            r = session.get_one(SurgeRequest, c.request_id)
            tz = reader_zone(session, session.get_one(Person, c.person_id), home_tz)
            return Reply(text="", messages=[Message(
                audience=Audience.DM, person_id=c.person_id, request_id=r.id, tone=Tone.WARNING,
                text=f"⏰ {r.ref} · {r.title} is due {when(r.deadline, tz)} and you haven't checked in on your "
                f"{plural(c.units, 'unit')}. Check in when you arrive, or `release {r.ref}` if you can't make it.",
                actions=[Action(kind=ActionKind.START, label="Check in", command=f"start {r.ref}", style="primary")])])

        yield Due(keys=(f"remind:not_started:{claim.id}",), build=build)


def expiring_agreements(s: Session, now: datetime, home_tz: str) -> Iterator[Due]:
    ag = current_agreement(s)
    if ag is None:
        return
    newest: dict[int, Signature] = {}
    for sig in s.exec(select(Signature).where(Signature.agreement_id == ag.id, Signature.expires_at > now)).all():
        if sig.org_id not in newest or sig.expires_at > newest[sig.org_id].expires_at:
            newest[sig.org_id] = sig
    for org_id, sig in newest.items():
        crossed = [d for d in EXPIRY_DAYS if sig.expires_at - now <= timedelta(days=d)]
        if not crossed:
            continue
        org = s.get_one(Org, org_id)
        admins = [p for p in s.exec(select(Person).where(Person.org_id == org_id)).all() if Role.PARTNER_ADMIN in p.roles]
        for admin in admins:
            def build(session: Session, pid=admin.id, days=crossed[0], until=sig.expires_at, name=org.name) -> Reply:
                return Reply(text="", messages=[Message(
                    audience=Audience.DM, person_id=pid, tone=Tone.WARNING,
                    text=f"{name}'s non-solicitation agreement (version {ag.version}) expires within "
                    f"{plural(days, 'day')}, on {when(until, home_tz)}. After that nobody at {name} can claim work. "
                    "Sign it again to renew.",
                    actions=[Action(kind=ActionKind.SIGN, label="Read and sign", command="agreement", style="primary")])])

            yield Due(keys=tuple(f"remind:expiry:{sig.id}:{admin.id}:{d}d" for d in crossed), build=build)


def waiting_verification(s: Session, now: datetime, home_tz: str) -> Iterator[Due]:
    rows = s.exec(select(Claim, Person).where(Claim.status == ClaimStatus.DONE, Claim.person_id == Person.id,
                                              col(Claim.done_at) <= now - VERIFY_WAIT)).all()
    for claim, person in rows:
        assert claim.done_at is not None  # the query compared it: a NULL would not be here
        def build(session: Session, cid=claim.id, name=person.name) -> Reply:
            c = session.get_one(Claim, cid)
            r = session.get_one(SurgeRequest, c.request_id)
            who = f'"{name}"'
            return Reply(text="", messages=[Message(
                audience=Audience.DISPATCH, request_id=r.id, tone=Tone.WARNING,
                text=f"⏰ {name} reported {plural(c.units_done, 'unit')} of {r.ref} · {r.title} done "
                f"{when(c.done_at, home_tz)}; it has waited over 24 h for verification.",
                actions=[Action(kind=ActionKind.VERIFY, label="Verify", command=f"verify {r.ref} {who}", style="primary",
                                request_id=r.id, person_id=c.person_id),
                         Action(kind=ActionKind.REJECT, label="Send back", command=f"reject {r.ref} {who}", style="danger",
                                request_id=r.id, person_id=c.person_id)])])

        yield Due(keys=(f"remind:verify:{claim.id}:{claim.done_at.isoformat()}",), build=build)


def open_problems(s: Session, now: datetime, home_tz: str) -> Iterator[Due]:
    for pid in overdue_problems(s, now):
        yield Due(keys=(f"remind:problem:{pid}",), build=partial(problem_reminder, problem_id=pid, now=now))


# -- tier widening ------------------------------------------------------------------------------

def widen_tiers(db: Database, now: datetime) -> list[str]:
    """A request still unclaimed after its tier delay goes to the next tier's partner channels."""

    def candidates(s: Session) -> list[int]:
        tiers = _tiers(s)
        rows = s.exec(select(SurgeRequest).where(
            col(SurgeRequest.status).in_([RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED]),
            SurgeRequest.deadline > now)).all()
        return [pk(r) for r in rows if _next_tier(tiers, r.visible_tier) and now >= _widen_at(r)]

    def widen(s: Session, rid: int) -> str | None:
        req = s.exec(select(SurgeRequest).where(SurgeRequest.id == rid).with_for_update()
                     .execution_options(populate_existing=True)).one()
        nxt = _next_tier(_tiers(s), req.visible_tier)
        if not nxt or req.units_left <= 0 or now < _widen_at(req) or req.status not in (
                RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED):
            return None  # another scheduler widened it, or it filled up meanwhile
        enqueue(s, widen_to(s, req, nxt, now))
        return f"widen:{req.id}:{nxt}"

    done = []
    for rid in db.run(candidates):
        key = db.run(partial(widen, rid=rid))
        if key:
            done.append(key)
    return done


def widen_to(s: Session, req: SurgeRequest, tier: int, now: datetime, *, by: int | None = None) -> Reply:
    """Offer the (row-locked) request to partners up to `tier` now: its cards go to the newly reached
    tier channels and every copy is updated. The one way to widen, for the clock and a dispatcher (`by`)."""
    was, req.visible_tier, req.updated_at = req.visible_tier, tier, now
    s.add(AuditEntry(at=now, action="request.widened", actor_id=by, request_id=req.id, units=req.units_left,
                     detail={"from_tier": was, "to_tier": tier}))
    return Reply(text="").card(pk(req), CardChange.POST).card(pk(req), CardChange.UPDATE)


def _tiers(s: Session) -> list[int]:
    """Every tier a request can be widened to: those of the partner channels and of the partners (a
    tier-3 partner with no channel of its own still sees a request in `list` once it is offered to tier 3)."""
    channels = {c.tier for c in s.exec(select(Channel).where(Channel.purpose == ChannelPurpose.PARTNERS)).all() if c.tier}
    partners = set(s.exec(select(Org.tier).where(Org.kind == OrgKind.PARTNER)).all())
    return sorted(channels | partners)


def _next_tier(tiers: list[int], current: int) -> int | None:
    return next((t for t in tiers if t > current), None)


def _widen_at(req: SurgeRequest) -> datetime:
    """Each further tier after one more delay, counted from the post."""
    return req.created_at + timedelta(minutes=req.tier_delay_minutes * (req.visible_tier - req.tier + 1))


# -- expiry -------------------------------------------------------------------------------------

def expire(db: Database, now: datetime) -> list[str]:
    """A request whose deadline passed with units nobody claimed expires: its cards stop offering it.
    Claims already taken go on (they can still be reported and verified)."""

    def work(s: Session) -> list[str]:
        rows = s.exec(select(SurgeRequest).where(
            col(SurgeRequest.status).in_([RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED]),
            SurgeRequest.deadline <= now)
            .with_for_update().execution_options(populate_existing=True)).all()
        reply = Reply(text="")
        for req in rows:
            req.status, req.status_reason, req.updated_at = RequestStatus.EXPIRED, "deadline passed", now
            s.add(AuditEntry(at=now, action="request.expired", request_id=req.id, units=req.units_left))
            reply.card(pk(req)).tell(Message(
                audience=Audience.DISPATCH, request_id=req.id, tone=Tone.WARNING,
                text=f"{req.ref} · {req.title} expired at its deadline with {plural(req.units_left, 'unit')} unclaimed."))
        enqueue(s, reply)
        return [f"expire:{r.id}" for r in rows]

    return db.run(work)
