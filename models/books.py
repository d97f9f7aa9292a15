"""The books: verified work by month, at the rates each claim kept, and the months settled.

A verification counts in the month (in the reader's time zone) it was recorded in. A month a
partner was paid for never changes: a verification recorded after that month was settled counts in
the next month not yet settled, as an adjustment.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from models.ledger import Dispute, Expense, ExpenseStatus
from models.tables import Claim, ClaimStatus, Org, Person, Settlement, SurgeRequest


@dataclass(frozen=True)
class Line:
    """One verified claim as the books see it; amounts in whole cents."""

    claim_id: int
    request_id: int
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
        stmt = stmt.where(Settlement.org_id == org_id)
    return {(s.org_id, s.month): s for s in session.exec(stmt).all()}


def books_month(at: datetime, org_id: int, tz: ZoneInfo, settled: dict[tuple[int, str], Settlement]) -> str:
    """The month a verification counts in: its own, or the first after it not settled before it."""
    month = month_of(at, tz)
    while (found := settled.get((org_id, month))) is not None and found.at < at:
        month = next_month(month)
    return month


def month_lines(*, session: Session, month: str, tz: ZoneInfo, org_id: int | None = None,
                payables: bool = True) -> list[Line]:
    """The verified work that counts in `month`, by partner, request and tech. For payables a settled
    month keeps its lines (later ones are adjustments of the next open month); billing to customers
    goes by the month of the verification alone."""
    _, end = month_bounds(month, tz)
    settled = settlements(session=session, org_id=org_id) if payables else {}
    stmt = (
        select(Claim, SurgeRequest, Org, Person.name)
        .join(SurgeRequest, SurgeRequest.id == Claim.request_id)
        .join(Org, Org.id == Claim.org_id)
        .join(Person, Person.id == Claim.person_id)
        .where(Claim.status == ClaimStatus.VERIFIED, Claim.units_verified > 0, Claim.verified_at < end)
    )
    if org_id is not None:
        stmt = stmt.where(Claim.org_id == org_id)
    lines = []
    for c, r, org, tech in session.exec(stmt).all():
        counted = books_month(c.verified_at, c.org_id, tz, settled)
        if counted != month:
            continue
        lines.append(Line(
            claim_id=c.id, request_id=r.id, title=r.title, org_id=c.org_id, partner=org.name, tech=tech,
            customer=r.customer, site=r.site, units=c.units_verified, pay_cents=c.pay_cents,
            bill_cents=c.bill_cents, verified_at=c.verified_at, adjustment=counted != month_of(c.verified_at, tz),
            terms_days=org.terms_days,
        ))
    lines += _extra_lines(session, month, tz, org_id, settled, end)
    return sorted(lines, key=lambda x: (x.partner, x.request_id, x.tech, x.verified_at, x.claim_id))


def _extra_lines(s: Session, month: str, tz: ZoneInfo, org_id: int | None,
                 settled: dict[tuple[int, str], Settlement], end: datetime) -> list[Line]:
    """Units credited by resolved disputes (at the claim's rates) and approved expenses (at cost),
    counted like a verification on the day they were recorded."""
    base = (select(Claim, SurgeRequest, Org, Person.name).join(SurgeRequest, SurgeRequest.id == Claim.request_id)
            .join(Org, Org.id == Claim.org_id).join(Person, Person.id == Claim.person_id))
    credits = base.add_columns(Dispute).join(Dispute, Dispute.claim_id == Claim.id).where(
        Dispute.units_credited > 0, Dispute.resolved_at < end)
    spent = base.add_columns(Expense).join(Expense, Expense.claim_id == Claim.id).where(
        Expense.status == ExpenseStatus.APPROVED, Expense.decided_at < end)
    if org_id is not None:
        credits, spent = credits.where(Claim.org_id == org_id), spent.where(Claim.org_id == org_id)
    rows = [(c, r, org, tech, d.resolved_at, "credit", f"{r.title} (credit, {d.ref})", d.units_credited,
             c.pay_cents, c.bill_cents) for c, r, org, tech, d in s.exec(credits).all()]
    rows += [(c, r, org, tech, e.decided_at, "expense", f"expense: {e.what}", 1, e.amount_cents, e.amount_cents)
             for c, r, org, tech, e in s.exec(spent).all()]
    out = []
    for c, r, org, tech, at, kind, title, units, pay, bill in rows:
        counted = books_month(at, c.org_id, tz, settled)
        if counted == month:
            out.append(Line(claim_id=c.id, request_id=r.id, title=title, org_id=c.org_id, partner=org.name,
                            tech=tech, customer=r.customer, site=r.site, units=units, pay_cents=pay,
                            bill_cents=bill, verified_at=at, adjustment=counted != month_of(at, tz),
                            terms_days=org.terms_days, kind=kind))
    return out
