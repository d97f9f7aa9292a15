"""A partner's measured record and the incidents against partners: aggregate statements, no loops
over whole tables. `record` per tech; `incidents` for the partner list, the record and the digest."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from models.tables import AuditEntry, Claim, ClaimStatus, Incident, Lead, Org, Person, SurgeRequest

REVOKED = "revoked"  # a claim the home MSP took back (`revoke`); counted by its word


def _sum(expr) -> object:
    return func.coalesce(func.sum(expr), 0)


def _when(cond, value) -> object:
    return _sum(case((cond, value), else_=0))


@dataclass(frozen=True)
class TechRecord:
    person_id: int
    name: str
    taken: int = 0  # units claimed, every claim ever taken
    verified: int = 0  # units verified
    claims_verified: int = 0
    on_time: int = 0  # verified claims reported done by the request's deadline
    reworked: int = 0  # times work was sent back
    released: int = 0  # units given back
    revoked: int = 0  # claims taken back by a dispatcher
    leads: int = 0


def tech_records(*, session: Session, org_id: int) -> list[TechRecord]:
    """Each person of the org who ever claimed or handed back a lead, by name."""
    verified = Claim.status == ClaimStatus.VERIFIED
    claims = session.exec(
        select(Claim.person_id, _when(verified, Claim.units_verified), _when(verified, 1),
               _when(and_(verified, Claim.done_at <= SurgeRequest.deadline), 1), _sum(Claim.rework),
               _when(Claim.status == REVOKED, 1))
        .join(SurgeRequest, SurgeRequest.id == Claim.request_id)
        .where(Claim.org_id == org_id).group_by(Claim.person_id)
    ).all()
    moved = session.exec(
        select(Claim.person_id, _when(AuditEntry.action == "claim.taken", AuditEntry.units),
               _when(AuditEntry.action == "claim.released", AuditEntry.units))
        .join(Claim, Claim.id == AuditEntry.claim_id)
        .where(Claim.org_id == org_id, AuditEntry.action.in_(("claim.taken", "claim.released")))
        .group_by(Claim.person_id)
    ).all()
    leads = dict(session.exec(
        select(Lead.person_id, func.count()).where(Lead.org_id == org_id).group_by(Lead.person_id)).all())
    by_person = {r[0]: r for r in claims}
    units = {r[0]: (int(r[1]), int(r[2])) for r in moved}
    ids = set(by_person) | set(units) | set(leads)
    names = dict(session.exec(select(Person.id, Person.name).where(Person.id.in_(ids))).all()) if ids else {}
    out = []
    for pid in sorted(ids, key=lambda i: names.get(i, "").lower()):
        c = by_person.get(pid) or (pid, 0, 0, 0, 0, 0)
        taken, released = units.get(pid, (0, 0))
        out.append(TechRecord(person_id=pid, name=names.get(pid, f"person {pid}"), taken=taken,
                              verified=int(c[1]), claims_verified=int(c[2]), on_time=int(c[3]),
                              reworked=int(c[4]), released=released, revoked=int(c[5]),
                              leads=int(leads.get(pid, 0))))
    return out


@dataclass(frozen=True)
class IncidentLine:
    id: int
    org_id: int
    org: str
    kind: str
    text: str
    at: datetime
    reporter: str
    request_id: int | None
    response: str
    resolution: str
    resolved_at: datetime | None

    @property
    def ref(self) -> str:
        return f"IN-{self.id}"


def incidents(*, session: Session, org_id: int | None = None, open_only: bool = False,
              limit: int = 50) -> list[IncidentLine]:
    """Incidents (of one partner, or all), oldest first, with the partner's and the reporter's names."""
    reporter = aliased(Person)
    stmt = (select(Incident.id, Incident.org_id, Org.name, Incident.kind, Incident.text, Incident.at,
                   reporter.name, Incident.request_id, Incident.response, Incident.resolution,
                   Incident.resolved_at)
            .join(Org, Org.id == Incident.org_id).join(reporter, reporter.id == Incident.reported_by_id))
    if org_id is not None:
        stmt = stmt.where(Incident.org_id == org_id)
    if open_only:
        stmt = stmt.where(Incident.resolved_at.is_(None))
    return [IncidentLine(*r) for r in session.exec(stmt.order_by(Incident.at, Incident.id).limit(limit)).all()]
