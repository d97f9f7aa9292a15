"""The digest's own queries: requests by where their units stand (live, late, due), on-time rates over
deadlines that have passed, open disputes, suspended partners' open claims, and money per partner and
per customer over any period. A fixed number of statements each, however much work there is.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.ledger import Dispute, Expense, ExpenseStatus, SettledLine
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


def _sum(expr: Any) -> ColumnElement[int]:
    """SUM(expr), 0 over no rows."""
    return func.coalesce(func.sum(expr), 0)


def _sum_when(cond: ColumnElement[bool], value: Any) -> ColumnElement[int]:
    """SUM of `value` over the rows where `cond` holds, 0 over none."""
    return _sum(case((cond, value), else_=0))


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
    deadline, rid = col(SurgeRequest.deadline), col(SurgeRequest.id)
    wanted: list[ColumnElement[bool]] = []
    if live:
        wanted.append(deadline > now)
    if late:
        wanted.append(deadline <= now)
    if due:
        wanted.append(and_(deadline >= due[0], deadline < due[1]))
    where = and_(col(SurgeRequest.status).not_in(_SHOWN), col(SurgeRequest.units_verified) < SurgeRequest.units,
                 or_(false(), *wanted))
    total, units = session.execute(sa_select(func.count(), _sum(col(SurgeRequest.units) - SurgeRequest.units_verified))
                                   .select_from(SurgeRequest).where(where)).one()
    st = col(Claim.status)
    rows = session.execute(
        sa_select(rid, col(SurgeRequest.title), deadline, col(SurgeRequest.status), col(SurgeRequest.units),
                  col(SurgeRequest.units) - SurgeRequest.units_taken,
                  _sum_when(st.in_(_NOT_STARTED), Claim.units),
                  _sum_when(st == ClaimStatus.IN_PROGRESS, Claim.units),
                  _sum_when(st == ClaimStatus.DONE, Claim.units_done),
                  _sum_when(st == ClaimStatus.VERIFIED, Claim.units_verified))
        .select_from(SurgeRequest).outerjoin(Claim, col(Claim.request_id) == rid)
        .where(where)
        .group_by(rid, col(SurgeRequest.title), deadline, col(SurgeRequest.status), col(SurgeRequest.units),
                  col(SurgeRequest.units_taken))
        .order_by(deadline, rid)
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
    done_at, deadline = col(Claim.done_at), col(SurgeRequest.deadline)
    rows = session.execute(
        sa_select(col(Claim.org_id), _sum_when(and_(done_at.is_not(None), done_at <= deadline), 1), func.count())
        .select_from(Claim).join(SurgeRequest, col(SurgeRequest.id) == Claim.request_id)
        .where(deadline <= now, col(SurgeRequest.status) != RequestStatus.CANCELLED,
               col(Claim.status).in_(_COMMITTED))
        .group_by(col(Claim.org_id))
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
        select(Dispute, col(Claim.request_id), col(SurgeRequest.title), col(Org.name))
        .join(Claim, col(Claim.id) == Dispute.claim_id).join(SurgeRequest, col(SurgeRequest.id) == Claim.request_id)
        .join(Org, col(Org.id) == Dispute.org_id).where(col(Dispute.resolved_at).is_(None))
        .order_by(col(Dispute.at), col(Dispute.id)).limit(limit)
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
    rows = session.execute(
        sa_select(col(Org.name), col(Person.name), col(SurgeRequest.id), col(SurgeRequest.title), col(Claim.status),
                  col(Claim.units), col(SurgeRequest.deadline))
        .select_from(Claim).join(Org, col(Org.id) == Claim.org_id).join(Person, col(Person.id) == Claim.person_id)
        .join(SurgeRequest, col(SurgeRequest.id) == Claim.request_id)
        .where(col(Org.status) == OrgStatus.SUSPENDED, col(Claim.status).in_(_LIVE_CLAIMS),
               col(SurgeRequest.status) != RequestStatus.CANCELLED)
        .order_by(col(Org.name), col(SurgeRequest.deadline), col(Claim.id)).limit(limit)
    ).all()
    return [SuspendedClaim(*r) for r in rows]


@dataclass(frozen=True)
class Tally:
    count: int = 0
    units: int = 0


def _not_cancelled() -> ColumnElement[bool]:
    return or_(col(AuditEntry.request_id).is_(None), col(SurgeRequest.status) != RequestStatus.CANCELLED)


def activity(*, session: Session, start: datetime, end: datetime) -> dict[str, Tally]:
    """What the audit log recorded in [start, end), by action (how many entries, and their units),
    leaving out what happened on requests that were cancelled since."""
    at = col(AuditEntry.at)
    rows = session.execute(
        sa_select(col(AuditEntry.action), func.count(), _sum(AuditEntry.units))
        .select_from(AuditEntry).outerjoin(SurgeRequest, col(SurgeRequest.id) == AuditEntry.request_id)
        .where(at >= start, at < end, _not_cancelled())
        .group_by(col(AuditEntry.action))
    ).all()
    return {action: Tally(int(n), int(units)) for action, n, units in rows}


PARTNER_ACTIONS = ("claim.taken", "claim.done", "claim.verified", "claim.released")


def partner_activity(*, session: Session, start: datetime, end: datetime) -> dict[int, tuple[int, ...]]:
    """Each org's units taken, reported done, verified and released in [start, end), from the audit
    log, leaving out requests that were cancelled since."""
    at, units = col(AuditEntry.at), func.coalesce(AuditEntry.units, 0)
    rows = session.execute(
        sa_select(col(AuditEntry.org_id), *(_sum_when(col(AuditEntry.action) == a, units) for a in PARTNER_ACTIONS))
        .select_from(AuditEntry).outerjoin(SurgeRequest, col(SurgeRequest.id) == AuditEntry.request_id)
        .where(at >= start, at < end, col(AuditEntry.org_id).is_not(None), _not_cancelled())
        .group_by(col(AuditEntry.org_id))
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

    def add(self, partner: str, customer: str, billed: int, paid: int) -> None:
        self.billed += billed
        self.paid += paid
        for key, split in ((partner, self.by_partner), (customer or "(no customer)", self.by_customer)):
            split[key][0] += billed
            split[key][1] += paid


def takings(*, session: Session, periods: list[tuple[datetime, datetime]]) -> list[Takings]:
    """What the books count in each [start, end) period, by partner and customer, in three grouped
    statements: verified work at each claim's own rates, units credited by resolved disputes at the
    claim's rates, approved expenses at cost, each on the moment it was recorded. The same lines as
    `models.books.month_lines(payables=False)` counts (a test holds the two to the same figures),
    summed in SQL rather than read row by row, so a digest costs the same however long the history."""
    def sums(at: Any, units: Any, bill: Any, pay: Any) -> list[ColumnElement[int]]:
        cols = []
        for start, end in periods:
            inside = and_(at >= start, at < end)
            cols += [_sum_when(inside, cast(units, BigInteger) * bill), _sum_when(inside, cast(units, BigInteger) * pay)]
        return cols

    first, last = min(p[0] for p in periods), max(p[1] for p in periods)
    by = (col(Org.name), col(SurgeRequest.customer))

    def grouped(*columns: ColumnElement[int]) -> Any:
        return (sa_select(*by, *columns).select_from(Claim)
                .join(SurgeRequest, col(SurgeRequest.id) == Claim.request_id).join(Org, col(Org.id) == Claim.org_id))

    verified_at, resolved_at, decided_at = col(Claim.verified_at), col(Dispute.resolved_at), col(Expense.decided_at)
    statements = [
        grouped(*sums(verified_at, Claim.units_verified, Claim.bill_cents, Claim.pay_cents)).where(
            col(Claim.status) == ClaimStatus.VERIFIED, col(Claim.units_verified) > 0,
            verified_at >= first, verified_at < last),
        grouped(*sums(resolved_at, Dispute.units_credited, Claim.bill_cents, Claim.pay_cents))
        .join(Dispute, col(Dispute.claim_id) == Claim.id).where(
            col(Dispute.units_credited) > 0, resolved_at >= first, resolved_at < last),
        grouped(*sums(decided_at, literal(1), Expense.amount_cents, Expense.amount_cents))
        .join(Expense, col(Expense.claim_id) == Claim.id).where(
            col(Expense.status) == ExpenseStatus.APPROVED, decided_at >= first, decided_at < last),
    ]
    out = [Takings() for _ in periods]
    for stmt in statements:
        for row in session.execute(stmt.group_by(*by)).all():
            partner, customer, figures = row[0], row[1], row[2:]
            for i, t in enumerate(out):
                t.add(partner, customer, int(figures[2 * i]), int(figures[2 * i + 1]))
    return out


@dataclass(frozen=True)
class Payable:
    """What a partner is owed and not yet paid (no settlement listed the line): past its due date, and
    falling due within the coming week. A line is due its partner's `terms_days` after it was recorded."""

    partner: str
    overdue: int  # cents
    due_soon: int


def payables_due(*, session: Session, now: datetime, within: timedelta = timedelta(days=7)) -> list[Payable]:
    """Per partner, unpaid verified work, dispute credits and approved expenses that are overdue or fall
    due within `within`, largest first: one small statement for the partners' terms, three grouped ones."""
    terms = session.execute(sa_select(col(Org.terms_days)).distinct()).scalars().all()

    def owed(at: Any, amount: Any, kind: str, source: Any) -> Any:
        paid = exists().where(col(SettledLine.kind) == kind, col(SettledLine.source_id) == source)
        days = col(Org.terms_days)
        overdue = or_(false(), *(and_(days == t, at < now - timedelta(days=t)) for t in terms))
        soon = or_(false(), *(and_(days == t, at >= now - timedelta(days=t), at < now + within - timedelta(days=t))
                              for t in terms))
        return (sa_select(col(Org.name), _sum_when(overdue, amount), _sum_when(soon, amount))
                .select_from(Claim).join(Org, col(Org.id) == Claim.org_id).where(~paid, at.is_not(None)))

    statements = [
        owed(col(Claim.verified_at), cast(Claim.units_verified, BigInteger) * Claim.pay_cents, "work", Claim.id)
        .where(col(Claim.status) == ClaimStatus.VERIFIED, col(Claim.units_verified) > 0),
        owed(col(Dispute.resolved_at), cast(Dispute.units_credited, BigInteger) * Claim.pay_cents, "credit", Dispute.id)
        .join(Dispute, col(Dispute.claim_id) == Claim.id).where(col(Dispute.units_credited) > 0),
        owed(col(Expense.decided_at), Expense.amount_cents, "expense", Expense.id)
        .join(Expense, col(Expense.claim_id) == Claim.id).where(col(Expense.status) == ExpenseStatus.APPROVED),
    ]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for stmt in statements:
        for name, overdue, soon in session.execute(stmt.group_by(col(Org.name))).all():
            totals[name][0] += int(overdue)
            totals[name][1] += int(soon)
    found = [Payable(name, o, s) for name, (o, s) in totals.items() if o or s]
    return sorted(found, key=lambda p: (-p.overdue, -p.due_soon, p.partner))
