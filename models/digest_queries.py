"""The digest's own queries: requests by where their units stand (live, late, due), on-time rates over
deadlines that have passed, open disputes, suspended partners' open claims, and money per partner and
per customer over any period. A fixed number of statements each, however much work there is.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, select

from models.books import Line, month_bounds, month_lines, month_of, next_month
from models.ledger import Dispute
from models.tables import (
    AuditEntry,
    Claim,
    ClaimStatus,
    Org,
    OrgStatus,
    Person,
    RequestStatus,
    SurgeRequest,
)

_NOT_STARTED = (ClaimStatus.PENDING, ClaimStatus.ACTIVE)
_LIVE_CLAIMS = (ClaimStatus.PENDING, ClaimStatus.ACTIVE, ClaimStatus.IN_PROGRESS, ClaimStatus.DONE)
# Claims that committed to the deadline: approved and not given back, moved or taken back.
_COMMITTED = (ClaimStatus.ACTIVE, ClaimStatus.IN_PROGRESS, ClaimStatus.DONE, ClaimStatus.VERIFIED,
              ClaimStatus.REJECTED)
_SHOWN = (RequestStatus.CANCELLED, RequestStatus.COMPLETED)  # never live, never late


def _sum_when(cond, value) -> object:
    return func.coalesce(func.sum(case((cond, value), else_=0)), 0)


@dataclass(frozen=True)
class RequestState:
    """One request's units by where they stand."""

    request_id: int
    title: str
    deadline: datetime
    status: str
    units: int
    open: int  # nobody has them
    claimed: int  # claimed (or waiting for approval), not started
    in_progress: int
    done: int  # reported, waiting for verification
    verified: int

    @property
    def unverified(self) -> int:
        return self.units - self.verified

    @property
    def expired(self) -> bool:
        return self.status == RequestStatus.EXPIRED


def request_states(*, session: Session, now: datetime, live: bool = False, late: bool = False,
                   due: tuple[datetime, datetime] | None = None,
                   limit: int = 200) -> tuple[list[RequestState], int, int]:
    """Requests (not cancelled, not completed) with units not yet verified, soonest deadline first, how
    many there are in all and their units not verified: `live` ones (deadline ahead), `late` ones
    (deadline passed, expired ones included), or those `due` within [start, end). Two statements."""
    wanted = []
    if live:
        wanted.append(SurgeRequest.deadline > now)
    if late:
        wanted.append(SurgeRequest.deadline <= now)
    if due:
        wanted.append(and_(SurgeRequest.deadline >= due[0], SurgeRequest.deadline < due[1]))
    where = and_(SurgeRequest.status.not_in(_SHOWN), SurgeRequest.units_verified < SurgeRequest.units,
                 or_(*wanted) if wanted else SurgeRequest.id.is_(None))
    total, units = session.exec(select(func.count(), func.coalesce(func.sum(
        SurgeRequest.units - SurgeRequest.units_verified), 0)).select_from(SurgeRequest).where(where)).one()
    st = Claim.status
    rows = session.exec(
        select(SurgeRequest.id, SurgeRequest.title, SurgeRequest.deadline, SurgeRequest.status, SurgeRequest.units,
               SurgeRequest.units - SurgeRequest.units_taken,
               _sum_when(st.in_(_NOT_STARTED), Claim.units),
               _sum_when(st == ClaimStatus.IN_PROGRESS, Claim.units),
               _sum_when(st == ClaimStatus.DONE, Claim.units_done),
               _sum_when(st == ClaimStatus.VERIFIED, Claim.units_verified))
        .select_from(SurgeRequest).join(Claim, Claim.request_id == SurgeRequest.id, isouter=True)
        .where(where)
        .group_by(SurgeRequest.id, SurgeRequest.title, SurgeRequest.deadline, SurgeRequest.status,
                  SurgeRequest.units, SurgeRequest.units_taken)
        .order_by(SurgeRequest.deadline, SurgeRequest.id)
        .limit(limit)
    ).all()
    return [RequestState(r[0], r[1], r[2], r[3], *(int(x) for x in r[4:])) for r in rows], int(total), int(units)


@dataclass(frozen=True)
class OnTime:
    on_time: int = 0  # reported done by the deadline
    due: int = 0  # claims whose deadline has passed

    @property
    def rate(self) -> float | None:
        return self.on_time / self.due if self.due else None


def on_time_by_org(*, session: Session, now: datetime) -> dict[int, OnTime]:
    """Per partner org, over claims on requests whose deadline has passed (not cancelled): how many
    were reported done by it. A claim still open past its deadline counts as late; one given back,
    moved or taken back does not count; before any deadline passes there is no rate at all."""
    rows = session.exec(
        select(Claim.org_id, _sum_when(and_(Claim.done_at.is_not(None), Claim.done_at <= SurgeRequest.deadline), 1),
               func.count())
        .join(SurgeRequest, SurgeRequest.id == Claim.request_id)
        .where(SurgeRequest.deadline <= now, SurgeRequest.status != RequestStatus.CANCELLED,
               Claim.status.in_(_COMMITTED))
        .group_by(Claim.org_id)
    ).all()
    return {org_id: OnTime(int(ok), int(n)) for org_id, ok, n in rows}


@dataclass(frozen=True)
class OpenDispute:
    ref: str
    request_id: int
    title: str
    partner: str
    about: str
    text: str
    at: datetime


def open_disputes(*, session: Session, limit: int = 200) -> list[OpenDispute]:
    """Disputes not yet resolved, oldest first."""
    rows = session.exec(
        select(Dispute, SurgeRequest.id, SurgeRequest.title, Org.name)
        .join(Claim, Claim.id == Dispute.claim_id).join(SurgeRequest, SurgeRequest.id == Claim.request_id)
        .join(Org, Org.id == Dispute.org_id).where(Dispute.resolved_at.is_(None))
        .order_by(Dispute.at, Dispute.id).limit(limit)
    ).all()
    return [OpenDispute(d.ref, rid, title, org, d.about, d.text, d.at) for d, rid, title, org in rows]


@dataclass(frozen=True)
class SuspendedClaim:
    partner: str
    person: str
    request_id: int
    title: str
    status: str
    units: int
    deadline: datetime


def suspended_open_claims(*, session: Session, limit: int = 200) -> list[SuspendedClaim]:
    """Claims of suspended partners that are still open (in progress, reported done, or not started)."""
    rows = session.exec(
        select(Org.name, Person.name, SurgeRequest.id, SurgeRequest.title, Claim.status, Claim.units,
               SurgeRequest.deadline)
        .select_from(Claim).join(Org, Org.id == Claim.org_id).join(Person, Person.id == Claim.person_id)
        .join(SurgeRequest, SurgeRequest.id == Claim.request_id)
        .where(Org.status == OrgStatus.SUSPENDED, Claim.status.in_(_LIVE_CLAIMS),
               SurgeRequest.status != RequestStatus.CANCELLED)
        .order_by(Org.name, SurgeRequest.deadline, Claim.id).limit(limit)
    ).all()
    return [SuspendedClaim(*r) for r in rows]


@dataclass(frozen=True)
class Tally:
    count: int = 0
    units: int = 0


def _not_cancelled():
    return or_(AuditEntry.request_id.is_(None), SurgeRequest.status != RequestStatus.CANCELLED)


def activity(*, session: Session, start: datetime, end: datetime) -> dict[str, Tally]:
    """What the audit log recorded in [start, end), by action (how many entries, and their units),
    leaving out what happened on requests that were cancelled since."""
    rows = session.exec(
        select(AuditEntry.action, func.count(), func.coalesce(func.sum(AuditEntry.units), 0))
        .select_from(AuditEntry).outerjoin(SurgeRequest, SurgeRequest.id == AuditEntry.request_id)
        .where(AuditEntry.at >= start, AuditEntry.at < end, _not_cancelled())
        .group_by(AuditEntry.action)
    ).all()
    return {action: Tally(int(n), int(units)) for action, n, units in rows}


PARTNER_ACTIONS = ("claim.taken", "claim.done", "claim.verified", "claim.released")


def partner_activity(*, session: Session, start: datetime, end: datetime) -> dict[int, tuple[int, ...]]:
    """Each org's units taken, reported done, verified and released in [start, end), from the audit
    log, leaving out requests that were cancelled since."""
    units = func.coalesce(AuditEntry.units, 0)
    rows = session.exec(
        select(AuditEntry.org_id, *(_sum_when(AuditEntry.action == a, units) for a in PARTNER_ACTIONS))
        .select_from(AuditEntry).outerjoin(SurgeRequest, SurgeRequest.id == AuditEntry.request_id)
        .where(AuditEntry.at >= start, AuditEntry.at < end, AuditEntry.org_id.is_not(None), _not_cancelled())
        .group_by(AuditEntry.org_id)
    ).all()
    return {r[0]: tuple(int(x) for x in r[1:]) for r in rows}


# -- money ----------------------------------------------------------------------------------------

@dataclass
class Takings:
    """Billed and paid over a period, in cents, with the same split per partner and per customer."""

    billed: int = 0
    paid: int = 0
    by_partner: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_customer: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    @property
    def margin(self) -> int:
        return self.billed - self.paid

    def add(self, x: Line) -> None:
        self.billed += x.billed
        self.paid += x.owed
        for key, split in ((x.partner, self.by_partner), (x.customer or "(no customer)", self.by_customer)):
            split[key][0] += x.billed
            split[key][1] += x.owed


def books_lines(*, session: Session, start: datetime, end: datetime, tz: ZoneInfo) -> list[Line]:
    """Everything the books count in [start, end): verified work at each claim's own rates, dispute
    credits and approved expenses (`models.books.month_lines`, by the moment each was recorded)."""
    lines: list[Line] = []
    month = month_of(start, tz)
    while month_bounds(month, tz)[0] < end:
        lines += [x for x in month_lines(session=session, month=month, tz=tz, payables=False)
                  if start <= x.verified_at < end]
        month = next_month(month)
    return lines


def takings(lines: list[Line], start: datetime, end: datetime) -> Takings:
    out = Takings()
    for x in lines:
        if start <= x.verified_at < end:
            out.add(x)
    return out
