"""A partner's measured record and the incidents against partners: aggregate statements, no loops
over whole tables. `record` per tech; `incidents` for the partner list, the record and the digest."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.queries import total, total_when
from models.tables import AuditEntry, Claim, ClaimStatus, Incident, Lead, Org, Person, SurgeRequest


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
    verified = col(Claim.status) == ClaimStatus.VERIFIED
    claims = session.execute(
        sa_select(col(Claim.person_id), total_when(verified, Claim.units_verified), total_when(verified, 1),
                  total_when(and_(verified, col(Claim.done_at) <= SurgeRequest.deadline), 1), total(Claim.rework),
                  total_when(col(Claim.status) == ClaimStatus.REVOKED, 1))
        .join(SurgeRequest, col(SurgeRequest.id) == Claim.request_id)
        .where(col(Claim.org_id) == org_id).group_by(col(Claim.person_id))
    ).all()
    action = col(AuditEntry.action)
    moved = session.exec(
        select(Claim.person_id, total_when(action == "claim.taken", AuditEntry.units),
               total_when(action == "claim.released", AuditEntry.units))
        .join(Claim, col(Claim.id) == AuditEntry.claim_id)
        .where(Claim.org_id == org_id, action.in_(("claim.taken", "claim.released")))
        .group_by(col(Claim.person_id))
    ).all()
    leads = dict(session.exec(
        select(Lead.person_id, func.count()).where(Lead.org_id == org_id).group_by(col(Lead.person_id))).all())
    by_person = {r[0]: r for r in claims}
    units = {r[0]: (int(r[1]), int(r[2])) for r in moved}
    ids = set(by_person) | set(units) | set(leads)
    names = dict(session.exec(select(col(Person.id), Person.name).where(col(Person.id).in_(ids))).all()) if ids else {}
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
    stmt = (sa_select(col(Incident.id), col(Incident.org_id), col(Org.name), col(Incident.kind), col(Incident.text),
                      col(Incident.at), col(reporter.name), col(Incident.request_id), col(Incident.response),
                      col(Incident.resolution), col(Incident.resolved_at))
            .join(Org, col(Org.id) == Incident.org_id).join(reporter, col(reporter.id) == Incident.reported_by_id))
    if org_id is not None:
        stmt = stmt.where(col(Incident.org_id) == org_id)
    if open_only:
        stmt = stmt.where(col(Incident.resolved_at).is_(None))
    rows = session.execute(stmt.order_by(col(Incident.at), col(Incident.id)).limit(limit)).all()
    return [IncidentLine(*r) for r in rows]
