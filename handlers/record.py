"""`record`: a partner's measured record, per tech, with the incidents against it and its responses.

A partner admin sees their own company's; a manager any partner's, or with none named every partner's
in a line each. Figures come from the claims and the audit log (`models.records`), never from anyone's say-so.
"""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, select

from handlers.common import find_partner, money, plural, session, when
from handlers.errors import Forbidden
from handlers.followups import won_leads
from handlers.grammar import Arg, Kind
from handlers.registry import command
from handlers.types import Context, Fact, Reply
from models.records import IncidentLine, TechRecord, incidents, tech_records
from models.tables import Incident, Org, OrgKind, Role, pk

EXAMPLE = 'record "Contoso Field Services"'
PENALTY = 0.25  # each incident recorded against a partner, and each claim taken back from it, costs a quarter


@dataclass(frozen=True)
class Standing:
    """The figure `partners` ranks by, from the record: verified units × the on-time share of verified
    claims, less a quarter for each incident and each revoked claim (never below zero)."""

    verified: int
    claims_verified: int
    on_time: int
    revoked: int
    incidents: int

    @property
    def share(self) -> float:
        return self.on_time / self.claims_verified if self.claims_verified else 0.0

    @property
    def score(self) -> int:
        return int(self.verified * self.share * max(0.0, 1 - PENALTY * (self.incidents + self.revoked)) + 0.5)

    def words(self) -> str:
        """`standing 36: 40 verified units × 90% on time, less 25% for 1 incident`"""
        against = [plural(self.incidents, "incident")] * bool(self.incidents) + \
            [plural(self.revoked, "claim") + " revoked"] * bool(self.revoked)
        less = min(100, round(100 * PENALTY * (self.incidents + self.revoked)))
        return (f"standing {self.score:,}: {plural(self.verified, 'verified unit')} × {self.share:.0%} on time"
                + (f", less {less}% for {' and '.join(against)}" if against else ""))


def standing(s: Session, org_id: int, techs: list[TechRecord] | None = None) -> Standing:
    techs = tech_records(session=s, org_id=org_id) if techs is None else techs
    count = s.exec(select(func.count()).select_from(Incident).where(Incident.org_id == org_id)).one()
    return Standing(verified=sum(t.verified for t in techs), claims_verified=sum(t.claims_verified for t in techs),
                    on_time=sum(t.on_time for t in techs), revoked=sum(t.revoked for t in techs),
                    incidents=int(count))


class ShowRecord(BaseModel):
    partner: str | None = None


def _on_time(on_time: int, claims: int) -> str:
    return f"{on_time / claims:.0%} on time ({on_time} of {plural(claims, 'verified claim')})" if claims \
        else "no verified work yet"


def _tech(t: TechRecord) -> str:
    return (f"{plural(t.taken, 'unit')} taken, {t.verified:,} verified, {_on_time(t.on_time, t.claims_verified)}, "
            f"reworked {plural(t.reworked, 'time')}, {plural(t.released, 'unit')} released, "
            f"{plural(t.revoked, 'claim')} revoked, {plural(t.leads, 'lead')} handed back")


def _incident(i: IncidentLine, ctx: Context) -> Fact:
    on = f" · SR-{i.request_id}" if i.request_id else ""
    state = f"resolved {when(i.resolved_at, ctx.actor.tz)}" if i.resolved_at else "open"
    lines = [f"“{i.text}” (recorded by {i.reporter})",
             f"Response: “{i.response}”" if i.response else "No response yet."]
    if i.resolved_at and ctx.actor.is_home:
        lines.append(f"Resolution: “{i.resolution}”")
    return Fact(label=f"{i.ref} · {i.kind}{on} · {when(i.at, ctx.actor.tz)} · {state}", value="\n".join(lines),
                at=i.at)


def _whose(cmd: ShowRecord, ctx: Context) -> Org:
    if ctx.actor.has(Role.MANAGER):
        return find_partner(ctx, cmd.partner or "")
    own = session(ctx).get_one(Org, ctx.actor.oid)
    if cmd.partner and find_partner(ctx, cmd.partner).id != own.id:
        raise Forbidden(f"You can see {own.name}'s record only.", example="record")
    return own


@command("record", summary="a partner's measured record: units, on time, rework, releases, revocations, "
         "leads, incidents, per tech", usage="record [partner]", example=EXAMPLE,
         roles={Role.PARTNER_ADMIN, Role.MANAGER}, who="partner admins (their own), managers",
         args=[Arg("partner", Kind.TEXT, required=False, rest=True)], reads_only=True)
def record(cmd: ShowRecord, ctx: Context) -> Reply:
    s = session(ctx)
    if ctx.actor.has(Role.MANAGER) and not cmd.partner:
        return _every_partner(s)
    org = _whose(cmd, ctx)
    techs = tech_records(session=s, org_id=pk(org))
    found = incidents(session=s, org_id=pk(org))
    fields = [Fact(label=t.name, value=_tech(t)) for t in techs] or [Fact(label="Techs", value="No work taken yet.")]
    fields += [_incident(i, ctx) for i in found]
    return Reply(title=f"Record · {org.name} · {org.status}", text=_summary(s, org, techs, found), fields=fields)


def _summary(s: Session, org: Org, techs: list[TechRecord], found: list[IncidentLine]) -> str:
    def total(name: str) -> int:
        return sum(getattr(t, name) for t in techs)

    still_open = sum(1 for i in found if i.resolved_at is None)
    answered = sum(1 for i in found if i.response)
    won, worth = won_leads(s, pk(org))
    return (f"{plural(total('taken'), 'unit')} taken · {total('verified'):,} verified · "
            f"{_on_time(total('on_time'), total('claims_verified'))} · reworked {plural(total('reworked'), 'time')} · "
            f"{plural(total('released'), 'unit')} released · {plural(total('revoked'), 'claim')} revoked · "
            f"{plural(total('leads'), 'lead')} handed back ({won} won, {money(worth)}) · "
            f"{plural(len(found), 'incident')} "
            f"({still_open} open, {answered} with a response) · {standing(s, pk(org), techs).words()}")


def _every_partner(s: Session) -> Reply:
    """A manager's `record` with no partner named: every partner's record in a line, ranked as `partners` is."""
    orgs = s.exec(select(Org).where(Org.kind == OrgKind.PARTNER)).all()
    lines = []
    for org in orgs:
        techs = tech_records(session=s, org_id=pk(org))
        found = incidents(session=s, org_id=pk(org))
        lines.append((standing(s, pk(org), techs).score, org, _summary(s, org, techs, found)))
    lines.sort(key=lambda line: (-line[0], line[1].name.lower()))
    fields = [Fact(label=f"{org.name} · {org.status}", value=text) for _, org, text in lines]
    return Reply(title="Partners' records", text=f"{plural(len(fields), 'partner')}, best standing first; "
                 f"`{EXAMPLE}` shows one per tech, with its incidents.", fields=fields)
