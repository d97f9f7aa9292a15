"""Aggregate queries: one SQL statement each, no per-row Python loops over whole tables."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, exists, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.tables import (
    AuditEntry,
    Channel,
    Claim,
    ClaimStatus,
    ConversationReference,
    Lead,
    Org,
    OrgKind,
    OutboxMessage,
    OutboxStatus,
    Person,
    Platform,
    PostedCard,
    Problem,
    RequestStatus,
    Signature,
    SurgeRequest,
    pks,
)


@dataclass(frozen=True)
class TrackRecord:
    org_id: int
    units_verified: int = 0
    claims_verified: int = 0
    on_time: int = 0  # verified claims reported done by the request's deadline
    rework: int = 0  # times work was sent back
    releases: int = 0  # claims given back whole
    leads: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.claims_verified if self.claims_verified else None


def track_records(*, session: Session) -> dict[int, TrackRecord]:
    """The measured track record of every partner org, keyed by org id."""
    verified = col(Claim.status) == ClaimStatus.VERIFIED
    claim_rows = session.execute(
        sa_select(
            col(Claim.org_id),
            total_when(verified, Claim.units_verified),
            total_when(verified, 1),
            total_when(and_(verified, col(Claim.done_at) <= SurgeRequest.deadline), 1),
            total(Claim.rework),
            total_when(col(Claim.status) == ClaimStatus.RELEASED, 1),
        )
        .join(SurgeRequest, col(SurgeRequest.id) == Claim.request_id)
        .group_by(col(Claim.org_id))
    ).all()
    lead_rows = dict(session.exec(select(Lead.org_id, func.count()).group_by(col(Lead.org_id))).all())
    orgs = pks(session.exec(select(Org.id).where(Org.kind == OrgKind.PARTNER)).all())
    by_org = {row[0]: row for row in claim_rows}
    out = {}
    for org_id in orgs:
        row = by_org.get(org_id)
        out[org_id] = TrackRecord(
            org_id=org_id,
            units_verified=int(row[1]) if row else 0,
            claims_verified=int(row[2]) if row else 0,
            on_time=int(row[3]) if row else 0,
            rework=int(row[4]) if row else 0,
            releases=int(row[5]) if row else 0,
            leads=int(lead_rows.get(org_id, 0)),
        )
    return out


# -- the daily digest ---------------------------------------------------------------------------

_GONE = (RequestStatus.CANCELLED, RequestStatus.EXPIRED)
_UNCLAIMED = (RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED)
_NOT_STARTED = (ClaimStatus.PENDING, ClaimStatus.ACTIVE)
AT_RISK_HOURS = 48


def total(expr: Any) -> ColumnElement[int]:
    """SUM(expr), 0 over no rows."""
    return func.coalesce(func.sum(expr), 0)


def total_when(cond: ColumnElement[bool], value: Any) -> ColumnElement[int]:
    """SUM of `value` over the rows where `cond` holds, 0 over none."""
    return total(case((cond, value), else_=0))


@dataclass(frozen=True)
class SurgeUnits:
    """Units by where they stand, over requests that are not cancelled or expired."""

    open: int = 0  # unclaimed, deadline not passed
    claimed: int = 0  # pending approval or claimed, not started
    in_progress: int = 0
    done: int = 0  # reported, waiting for verification
    verified: int = 0
    risk_unclaimed: int = 0  # deadline within 48 h and nobody has them
    risk_not_started: int = 0  # deadline within 48 h, claimed but nobody checked in

    @property
    def at_risk(self) -> int:
        return self.risk_unclaimed + self.risk_not_started


def surge_units(*, session: Session, now: datetime, hours: int = AT_RISK_HOURS) -> SurgeUnits:
    """Two aggregate statements: unclaimed units per request, claimed units per claim status."""
    deadline, status = col(SurgeRequest.deadline), col(SurgeRequest.status)
    soon = and_(deadline > now, deadline <= now + timedelta(hours=hours))
    left = col(SurgeRequest.units) - SurgeRequest.units_taken
    unclaimed = and_(status.in_(_UNCLAIMED), deadline > now)
    req = session.exec(
        select(total_when(unclaimed, left), total_when(and_(unclaimed, soon), left))
        .select_from(SurgeRequest)
        .where(status.not_in(_GONE))
    ).one()
    st = col(Claim.status)
    cl = session.execute(
        sa_select(
            total_when(st.in_(_NOT_STARTED), Claim.units),
            total_when(st == ClaimStatus.IN_PROGRESS, Claim.units),
            total_when(st == ClaimStatus.DONE, Claim.units_done),
            total_when(st == ClaimStatus.VERIFIED, Claim.units_verified),
            total_when(and_(st.in_(_NOT_STARTED), soon), Claim.units),
        )
        .select_from(Claim)
        .join(SurgeRequest, col(SurgeRequest.id) == Claim.request_id)
        .where(status.not_in(_GONE))
    ).one()
    return SurgeUnits(open=int(req[0]), claimed=int(cl[0]), in_progress=int(cl[1]), done=int(cl[2]),
                      verified=int(cl[3]), risk_unclaimed=int(req[1]), risk_not_started=int(cl[4]))


@dataclass(frozen=True)
class RiskRow:
    request_id: int
    title: str
    deadline: datetime
    unclaimed: int
    not_started: int


def at_risk_requests(*, session: Session, now: datetime, hours: int = AT_RISK_HOURS, limit: int = 10) -> list[RiskRow]:
    """Requests due within `hours` with units nobody has or nobody started, soonest first."""
    left = col(SurgeRequest.units) - SurgeRequest.units_taken
    unclaimed = case((col(SurgeRequest.status).in_(_UNCLAIMED), left), else_=0)
    not_started = total_when(col(Claim.status).in_(_NOT_STARTED), Claim.units)
    rows = session.execute(
        sa_select(col(SurgeRequest.id), col(SurgeRequest.title), col(SurgeRequest.deadline), unclaimed, not_started)
        .outerjoin(Claim, col(Claim.request_id) == SurgeRequest.id)
        .where(col(SurgeRequest.status).not_in(_GONE), col(SurgeRequest.deadline) > now,
               col(SurgeRequest.deadline) <= now + timedelta(hours=hours))
        .group_by(col(SurgeRequest.id), col(SurgeRequest.title), col(SurgeRequest.deadline), col(SurgeRequest.status),
                  col(SurgeRequest.units), col(SurgeRequest.units_taken))
        .having(or_(unclaimed > 0, not_started > 0))
        .order_by(col(SurgeRequest.deadline), col(SurgeRequest.id))
        .limit(limit)
    ).all()
    return [RiskRow(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]


@dataclass(frozen=True)
class Tally:
    count: int = 0
    units: int = 0


def activity(*, session: Session, start: datetime, end: datetime) -> dict[str, Tally]:
    """What the audit log recorded in [start, end), by action: how many entries and units."""
    rows = session.exec(
        select(AuditEntry.action, func.count(), total(AuditEntry.units))
        .where(AuditEntry.at >= start, AuditEntry.at < end)
        .group_by(col(AuditEntry.action))
    ).all()
    return {action: Tally(int(n), int(units)) for action, n, units in rows}


@dataclass(frozen=True)
class PartnerDay:
    units_taken: int = 0
    units_done: int = 0
    units_verified: int = 0
    units_released: int = 0


def partner_activity(*, session: Session, start: datetime, end: datetime) -> dict[int, PartnerDay]:
    """Each org's units taken, reported done, verified and released in [start, end), from the audit log."""
    units = func.coalesce(AuditEntry.units, 0)
    rows = session.execute(
        sa_select(col(AuditEntry.org_id), *(total_when(col(AuditEntry.action) == a, units)
                                       for a in ("claim.taken", "claim.done", "claim.verified", "claim.released")))
        .where(col(AuditEntry.at) >= start, col(AuditEntry.at) < end, col(AuditEntry.org_id).is_not(None))
        .group_by(col(AuditEntry.org_id))
    ).all()
    return {r[0]: PartnerDay(*(int(x) for x in r[1:])) for r in rows}


def signature_expiries(*, session: Session, agreement_id: int, now: datetime) -> dict[int, datetime]:
    """For each org holding a valid signature on this agreement version, when its newest one expires.

    The same rule as `handlers.contracts.valid_signature`, for every org in one statement.
    """
    rows = session.exec(
        select(Signature.org_id, func.max(Signature.expires_at))
        .where(Signature.agreement_id == agreement_id, Signature.expires_at > now)
        .group_by(col(Signature.org_id))
    ).all()
    return dict(rows)


@dataclass(frozen=True)
class FieldNote:
    at: datetime
    text: str
    person: str
    org: str
    request_id: int


def field_notes(*, session: Session, kind: type[Problem] | type[Lead], start: datetime, end: datetime,
                limit: int = 20) -> list[FieldNote]:
    """Problems or leads reported in [start, end), oldest first, with who reported them."""
    rows = session.execute(
        sa_select(col(kind.at), col(kind.text), col(Person.name), col(Org.name), col(kind.request_id))
        .join(Person, col(Person.id) == kind.person_id)
        .join(Org, col(Org.id) == kind.org_id)
        .where(col(kind.at) >= start, col(kind.at) < end)
        .order_by(col(kind.at), col(kind.id))
        .limit(limit)
    ).all()
    return [FieldNote(*r) for r in rows]


@dataclass(frozen=True)
class Takings:
    billed: int = 0  # cents billed to customers for verified units
    paid: int = 0  # cents owed to partners for the same units

    @property
    def margin(self) -> int:
        return self.billed - self.paid


def verified_money(*, session: Session, periods: list[tuple[datetime, datetime]]) -> list[Takings]:
    """Billed and paid for the units verified in each [start, end) period, in one statement."""
    units = cast(Claim.units_verified, BigInteger)
    cols: list[ColumnElement[int]] = []
    for start, end in periods:
        inside = and_(col(Claim.verified_at) >= start, col(Claim.verified_at) < end)
        # at the claim's own rates
        cols += [total_when(inside, units * Claim.bill_cents), total_when(inside, units * Claim.pay_cents)]
    if not cols:
        return []
    row = session.execute(
        sa_select(*cols).select_from(Claim).join(SurgeRequest, col(SurgeRequest.id) == Claim.request_id)
        .where(col(Claim.status) == ClaimStatus.VERIFIED)
    ).one()
    return [Takings(int(row[i]), int(row[i + 1])) for i in range(0, len(cols), 2)]


@dataclass(frozen=True)
class RequestUnits:
    request_id: int
    open: int
    claimed: int
    in_progress: int
    done: int
    verified: int


def units_by_request(*, session: Session, now: datetime, limit: int = 12) -> list[RequestUnits]:
    """Units by where they stand, per live request (soonest deadline first): one grouped statement."""
    st = col(Claim.status)
    rows = session.execute(
        sa_select(
            col(SurgeRequest.id),
            col(SurgeRequest.units) - SurgeRequest.units_taken,
            total_when(st.in_(_NOT_STARTED), Claim.units),
            total_when(st == ClaimStatus.IN_PROGRESS, Claim.units),
            total_when(st == ClaimStatus.DONE, Claim.units_done),
            total_when(st == ClaimStatus.VERIFIED, Claim.units_verified),
        )
        .select_from(SurgeRequest)
        .join(Claim, col(Claim.request_id) == SurgeRequest.id, isouter=True)
        .where(col(SurgeRequest.status).not_in(_GONE), col(SurgeRequest.status) != RequestStatus.COMPLETED,
               col(SurgeRequest.deadline) > now)
        .group_by(col(SurgeRequest.id), col(SurgeRequest.units), col(SurgeRequest.units_taken),
                  col(SurgeRequest.deadline))
        .order_by(col(SurgeRequest.deadline), col(SurgeRequest.id))
        .limit(limit)
    ).all()
    return [RequestUnits(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]


# -- chat channels ------------------------------------------------------------------------------

def posted_cards(*, session: Session, request_id: int) -> list[PostedCard]:
    """A request's card copies, except in channels a roster load deactivated (they are left as they are)."""
    off = exists().where(col(Channel.platform) == PostedCard.platform,
                         col(Channel.external_id) == PostedCard.channel_id, col(Channel.active) == False)  # noqa: E712
    return list(session.exec(select(PostedCard).where(PostedCard.request_id == request_id, ~off)).all())


def unreachable_teams_channels(*, session: Session) -> list[Channel]:
    """Teams channels on the roster that never spoke to the bot: with no stored conversation reference,
    Teams gives Surge no way to post into them (a card, a notice) until someone does."""
    return list(session.exec(_UNREACHABLE_TEAMS).all())


_HEARD = exists().where(col(ConversationReference.platform) == Platform.TEAMS,
                        col(ConversationReference.channel_id) == Channel.external_id)
# built once: every `status` a dispatcher reads runs it, and building it cost a third of a millisecond
_UNREACHABLE_TEAMS = select(Channel).where(Channel.platform == Platform.TEAMS, ~_HEARD).order_by(col(Channel.id))


def failed_count(session: Session) -> int:
    """Outbox rows that failed for good (for /healthz and the `failures` command)."""
    failed = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    return session.exec(failed).one()
