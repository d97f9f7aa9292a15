"""The books: verified work by month, at the rates each claim kept, and the months settled.

A verification (a dispute's credit, an approved expense) counts in the month, in the reader's time
zone, it was recorded in. A settlement records the lines it paid (`SettledLine`): those count in its
month for every reader, whatever their time zone. A month a partner was paid for never changes: a
line it did not pay that falls in it (recorded after the settlement) counts in the next month not
yet settled, as an adjustment, exactly once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from models.ledger import Dispute, Expense, ExpenseStatus, SettledLine
from models.tables import Claim, ClaimStatus, Org, Person, Settlement, SurgeRequest


@dataclass(frozen=True)
class Line:
    """One verified claim as the books see it; amounts in whole cents."""

    claim_id: int
    request_id: int
    person_id: int
    title: str
    org_id: int
    partner: str
    tech: str
    customer: str
    site: str
    units: int
    pay_cents: int
    bill_cents: int
    verified_at: datetime
    adjustment: bool  # verified after its own month was settled: counts in this (later) month
    terms_days: int = 30  # the partner's: paid this many days after verification
    kind: str = "work"  # work | credit (a resolved dispute) | expense (approved, at cost)
    source_id: int = 0  # the claim's id (work), the dispute's (credit), the expense's (expense)

    @property
    def due_at(self) -> datetime:
        return self.verified_at + timedelta(days=self.terms_days)

    @property
    def ref(self) -> str:
        return f"SR-{self.request_id}"

    @property
    def owed(self) -> int:
        return self.units * self.pay_cents

    @property
    def billed(self) -> int:
        return self.units * self.bill_cents


def month_of(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m")


def next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, as aware datetimes in `tz`."""
    start = datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=tz)
    nxt = next_month(month)
    return start, datetime(int(nxt[:4]), int(nxt[5:7]), 1, tzinfo=tz)


def settlements(*, session: Session, org_id: int | None = None) -> dict[tuple[int, str], Settlement]:
    stmt = select(Settlement)
    if org_id is not None:
        stmt = stmt.where(col(Settlement.org_id) == org_id)
    return {(s.org_id, s.month): s for s in session.exec(stmt).all()}


@dataclass(frozen=True)
class Settled:
    """What a settlement paid for one line, and the settlement's month."""

    month: str
    units: int


def settled_lines(*, session: Session, org_id: int | None = None) -> dict[tuple[str, int], Settled]:
    """(kind, source id) → the month that paid it and the units paid."""
    stmt = select(SettledLine.kind, SettledLine.source_id, SettledLine.units, Settlement.month).join(
        Settlement, col(Settlement.id) == col(SettledLine.settlement_id))
    if org_id is not None:
        stmt = stmt.where(col(Settlement.org_id) == org_id)
    return {(kind, sid): Settled(month, units) for kind, sid, units, month in session.exec(stmt).all()}


@dataclass(frozen=True)
class _Ledger:
    """A reader's view of the settlements: which month each line counts in."""

    tz: ZoneInfo
    months: set[tuple[int, str]]  # (org id, month) settled
    paid: dict[tuple[str, int], Settled]

    def month(self, kind: str, source_id: int, org_id: int, at: datetime) -> tuple[str, bool]:
        """The month a line counts in, and whether it is an adjustment (its own month was settled
        without it). A line a settlement paid counts in that settlement's month."""
        found = self.paid.get((kind, source_id))
        if found is not None:
            return found.month, False
        own = month = month_of(at, self.tz)
        while (org_id, month) in self.months:
            month = next_month(month)
        return month, month != own


def _ledger(session: Session, tz: ZoneInfo, org_id: int | None, payables: bool) -> _Ledger:
    if not payables:  # billing goes by the month of the verification alone
        return _Ledger(tz, set(), {})
    return _Ledger(tz, set(settlements(session=session, org_id=org_id)),
                   settled_lines(session=session, org_id=org_id))


# A line paid by a month's settlement was recorded before that month ended in the settling manager's
# zone: at most this long after it ended in any reader's.
_ZONES_APART = timedelta(days=2)


def month_lines(*, session: Session, month: str, tz: ZoneInfo, org_id: int | None = None,
                payables: bool = True) -> list[Line]:
    """The verified work that counts in `month`, by partner, request and tech. For payables a settled
    month keeps the lines it paid (later ones are adjustments of the next open month); billing to
    customers goes by the month of the verification alone."""
    _, end = month_bounds(month, tz)
    ledger = _ledger(session, tz, org_id, payables)
    lines = []
    for x in _rows(session, org_id, end + _ZONES_APART if payables else end):
        counted, adjustment = ledger.month(x.kind, x.source_id, x.claim.org_id, x.at)
        if counted != month:
            continue
        c, r, paid = x.claim, x.req, ledger.paid.get((x.kind, x.source_id))
        lines.append(Line(
            claim_id=_id(c.id), request_id=_id(r.id), person_id=c.person_id, title=x.title, org_id=c.org_id,
            partner=x.org.name, tech=x.tech, customer=r.customer, site=r.site, units=paid.units if paid else x.units,
            pay_cents=x.pay, bill_cents=x.bill, verified_at=x.at, adjustment=adjustment, terms_days=x.org.terms_days,
            kind=x.kind, source_id=x.source_id,
        ))
    return sorted(lines, key=lambda x: (x.partner, x.request_id, x.tech, x.verified_at, x.claim_id, x.source_id))


def _id(value: int | None) -> int:
    """A stored row's id (never None once the row is read from the database)."""
    if value is None:
        raise ValueError("a row read from the database has no id")
    return value


@dataclass(frozen=True)
class _Row:
    """One line of the books before it is placed in a month."""

    claim: Claim
    req: SurgeRequest
    org: Org
    tech: str
    at: datetime
    kind: str
    source_id: int
    title: str
    units: int
    pay: int
    bill: int


def _rows(s: Session, org_id: int | None, upto: datetime) -> list[_Row]:
    """Verified claims (at their rates), units credited by resolved disputes (at the claim's rates) and
    approved expenses (at cost, as one unit), each counted on the day it was recorded, before `upto`."""
    def claims(*where) -> Select:
        stmt = (select(Claim, SurgeRequest, Org, col(Person.name))
                .join(SurgeRequest, col(SurgeRequest.id) == col(Claim.request_id))
                .join(Org, col(Org.id) == col(Claim.org_id)).join(Person, col(Person.id) == col(Claim.person_id)))
        return stmt.where(*where) if org_id is None else stmt.where(col(Claim.org_id) == org_id, *where)

    rows = [_Row(c, r, org, tech, _at(c.verified_at), "work", _id(c.id), r.title, c.units_verified, c.pay_cents,
                 c.bill_cents) for c, r, org, tech in s.exec(claims(
                     col(Claim.status) == ClaimStatus.VERIFIED, col(Claim.units_verified) > 0,
                     col(Claim.verified_at) < upto)).all()]
    credited = select(Dispute).where(col(Dispute.units_credited) > 0, col(Dispute.resolved_at) < upto)
    approved = select(Expense).where(col(Expense.status) == ExpenseStatus.APPROVED, col(Expense.decided_at) < upto)
    if org_id is not None:  # each is the partner's whose claim it stands against
        credited, approved = credited.where(col(Dispute.org_id) == org_id), approved.where(col(Expense.org_id) == org_id)
    credits, spent = s.exec(credited).all(), s.exec(approved).all()
    ids = {d.claim_id for d in credits} | {e.claim_id for e in spent}
    of = {c.id: (c, r, org, tech) for c, r, org, tech in s.exec(claims(col(Claim.id).in_(ids))).all()} if ids else {}
    for d in credits:
        c, r, org, tech = of[d.claim_id]
        rows.append(_Row(c, r, org, tech, _at(d.resolved_at), "credit", _id(d.id), f"{r.title} (credit, {d.ref})",
                         d.units_credited, c.pay_cents, c.bill_cents))
    for e in spent:
        c, r, org, tech = of[e.claim_id]
        rows.append(_Row(c, r, org, tech, _at(e.decided_at), "expense", _id(e.id), f"expense: {e.what}", 1,
                         e.amount_cents, e.amount_cents))
    return rows


def _at(value: datetime | None) -> datetime:
    """The moment a line was recorded (the query only reads rows where it is set)."""
    if value is None:
        raise ValueError("a line of the books without the moment it was recorded")
    return value
