"""Incidents (`IN-n`): what a partner did that the home MSP records against it (suspected
solicitation of a customer or of staff, conduct, quality). The partner's admins are told and may
answer (`respond`); a dispatcher or manager closes it (`resolve`, which also takes other ids as
their features arrive: see `RESOLVERS`).

Privacy: an incident's text is written by home staff for the partner's admins. Nothing here adds a
request's customer, site or contact to what a partner is sent: a request shows as its id and title.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, field_validator
from sqlmodel import Session, select

from handlers.common import audit, find_partner, get_request, plural, session, when
from handlers.errors import Conflict, Forbidden, NotFound, UsageError
from handlers.grammar import Arg, Kind, Opt
from handlers.registry import command
from handlers.types import Audience, Context, Message, Reply, Tone
from models.records import IncidentLine, incidents
from models.tables import Incident, IncidentKind, Org, Person, Role, pk

INCIDENT_EXAMPLE = 'incident Contoso "tech offered the customer a direct contract" SR-7 kind=solicitation'
RESOLVE_EXAMPLE = 'resolve IN-3 "spoke with their owner; the tech no longer works our jobs"'
_REF = re.compile(r"^([A-Za-z]{2})[-\s]?(\d{1,9})$")
KINDS = ", ".join(k.value for k in IncidentKind)


def parse_ref(raw: str) -> tuple[str, int]:
    """`IN-3`, `in3`, `PR-4` → ("IN", 3); anything else is a usage error."""
    m = _REF.match(raw.strip())
    if not m:
        raise UsageError(f"“{raw[:40]}” is not an id like IN-3 (incident), PR-4 (problem) or DS-2 (dispute).",
                         example=RESOLVE_EXAMPLE)
    return m.group(1).upper(), int(m.group(2))


def age(now: datetime, at: datetime) -> str:
    hours = max(0, int((now - at).total_seconds() // 3600))
    return f"{plural(hours, 'hour')} old" if hours < 48 else f"{plural(hours // 24, 'day')} old"


def admins_of(s: Session, org_id: int) -> list[Person]:
    people = s.exec(select(Person).where(Person.org_id == org_id, Person.active == True)  # noqa: E712
                    .order_by(Person.name)).all()
    return [p for p in people if Role.PARTNER_ADMIN in p.roles]


def locked(ctx: Context, model, number: int, prefix: str):
    """An incident, problem or dispute by its number, its row locked for the change; NotFound if none."""
    stmt = select(model).where(model.id == number).with_for_update()
    row = session(ctx).exec(stmt.execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound(f"There is no {prefix}-{number}.")
    return row


def get_incident(ctx: Context, incident_id: int) -> Incident:
    return locked(ctx, Incident, incident_id, "IN")


def still_open(ctx: Context, model, number: int, prefix: str):
    """What `resolve` closes (an incident, a problem, a dispute), locked; refused if resolved already."""
    row = locked(ctx, model, number, prefix)
    if row.resolved_at is not None:
        who = session(ctx).get(Person, row.resolved_by_id) if row.resolved_by_id else None
        said = row.resolution if len(row.resolution) <= 200 else row.resolution[:199] + "…"
        raise Conflict(f"{row.ref} was resolved already by {who.name if who else 'someone'} on "
                       f"{when(row.resolved_at, ctx.actor.tz)}: “{said}”")
    return row


def one_line(i: IncidentLine, now: datetime) -> str:
    """An open incident for the home MSP's lists: age, what happened, and the partner's response."""
    text = i.text if len(i.text) <= 120 else i.text[:119] + "…"
    answer = f" — they responded: “{i.response[:120]}”" if i.response else " — no response yet"
    on = f" on SR-{i.request_id}" if i.request_id else ""
    return f"{i.ref} {i.kind}{on}, {age(now, i.at)}: “{text}”{answer}"


def open_incidents_by_org(s: Session, now: datetime) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for i in incidents(session=s, open_only=True):
        out.setdefault(i.org_id, []).append(one_line(i, now))
    return out


class ReportIncident(BaseModel):
    partner: str
    text: str
    request: int | None = None
    kind: str = IncidentKind.CONDUCT

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v.lower() not in {k.value for k in IncidentKind}:
            raise ValueError(f"An incident's kind is one of {KINDS}; “{v[:40]}” isn't")
        return v.lower()


@command("incident", summary="record an incident against a partner (solicitation, conduct, quality)",
         usage='incident <partner> "what happened" [SR-7] [kind=solicitation|conduct|quality]',
         example=INCIDENT_EXAMPLE, roles={Role.DISPATCHER, Role.MANAGER}, who="dispatchers, managers",
         args=[Arg("partner", Kind.TEXT), Arg("text", Kind.TEXT, max_len=2000),
               Arg("request", Kind.REQUEST, required=False)],
         opts={"kind": Opt(Kind.WORD, max_len=40)})
def incident(cmd: ReportIncident, ctx: Context) -> Reply:
    s = session(ctx)
    org = find_partner(ctx, cmd.partner)
    req = get_request(ctx, cmd.request) if cmd.request is not None else None
    inc = Incident(org_id=pk(org), request_id=req.id if req else None, reported_by_id=ctx.actor.pid,
                   kind=cmd.kind, text=cmd.text, at=ctx.now)
    s.add(inc)
    s.flush()
    audit(ctx, "incident.recorded", request=req, org_id=org.id, incident=inc.ref, kind=cmd.kind)
    about = f" on {req.ref} · {req.title}" if req else ""
    admins = admins_of(s, pk(org))
    reply = Reply(tone=Tone.SUCCESS, text=f"Recorded {inc.ref} ({cmd.kind}) against {org.name}{about}. " + (
        f"Told {', '.join(p.name for p in admins)}; their response will come to you."
        if admins else f"{org.name} has no partner admin on the roster to tell."))
    for p in admins:
        reply.tell(Message(
            audience=Audience.DM, person_id=p.id, tone=Tone.WARNING, title=f"Incident {inc.ref} · {cmd.kind}",
            text=f"{ctx.actor.org_name} recorded an incident about {org.name}{about}: “{cmd.text}”\n"
            f"Give your side with `respond {inc.ref} \"…\"`; it is kept beside the incident."))
    return reply


class RespondIncident(BaseModel):
    incident: str
    text: str


@command("respond", summary="your company's answer to an incident about it", usage='respond IN-3 "your side"',
         example='respond IN-3 "the customer asked our tech directly; he declined and told dispatch"',
         roles={Role.PARTNER_ADMIN}, who="partner admins",
         args=[Arg("incident", Kind.WORD, max_len=40), Arg("text", Kind.TEXT, max_len=2000)])
def respond(cmd: RespondIncident, ctx: Context) -> Reply:
    prefix, number = parse_ref(cmd.incident)
    if prefix != "IN":
        raise UsageError(f"`respond` answers an incident, like IN-3; {prefix}-{number} isn't one.",
                         example=f'respond IN-{number} "your side"')
    inc = get_incident(ctx, number)
    if inc.org_id != ctx.actor.org_id:
        raise Forbidden(f"{inc.ref} is not about your company; only its own partner admins can respond.")
    again = bool(inc.response)
    inc.response, inc.responded_by_id, inc.responded_at = cmd.text, ctx.actor.person_id, ctx.now
    audit(ctx, "incident.responded", org_id=inc.org_id, incident=inc.ref, again=again)
    reply = Reply(tone=Tone.SUCCESS, text=f"Your response is kept beside {inc.ref}"
                  + (" (it replaces your earlier one)" if again else "") + "; the person who recorded it is told.")
    return reply.tell(Message(
        audience=Audience.DM, person_id=inc.reported_by_id, title=f"Response to {inc.ref}",
        text=f"{ctx.actor.name} ({ctx.actor.org_name}) responded to {inc.ref} (“{inc.text[:200]}”): “{cmd.text}”"))


class Resolve(BaseModel):
    ref: str
    text: str
    units: int | None = None


Resolver = Callable[[Resolve, int, Context], Reply]
RESOLVERS: dict[str, Resolver] = {}  # id prefix → what closes it; problems (PR) and disputes (DS) join later
NOT_YET: dict[str, str] = {}  # id prefixes announced before what resolves them


@command("resolve", summary="close an incident (IN-n), a problem (PR-n) or a dispute (DS-n, units= credits "
         "verified units)", usage='resolve IN-3|PR-4|DS-2 "what was done" [units=N]', example=RESOLVE_EXAMPLE,
         roles={Role.DISPATCHER, Role.MANAGER}, who="dispatchers, managers",
         args=[Arg("ref", Kind.WORD, max_len=40), Arg("text", Kind.TEXT, max_len=2000)],
         opts={"units": Opt(Kind.UNITS)})
def resolve(cmd: Resolve, ctx: Context) -> Reply:
    prefix, number = parse_ref(cmd.ref)
    resolver = RESOLVERS.get(prefix)
    if resolver is None:
        if prefix in NOT_YET:
            raise Conflict(f"Resolving {NOT_YET[prefix]} ({prefix}-n) isn't in Surge yet; "
                           f"only incidents (IN-n) can be resolved for now.")
        raise UsageError(f"“{cmd.ref[:40]}” is not an id Surge resolves: use PR-4 for a problem, DS-2 for a "
                         "dispute or IN-3 for an incident.", example=RESOLVE_EXAMPLE)
    return resolver(cmd, number, ctx)


def resolve_incident(cmd: Resolve, number: int, ctx: Context) -> Reply:
    if cmd.units is not None:
        raise UsageError("units= credits a dispute; an incident has no units.", example=RESOLVE_EXAMPLE)
    s = session(ctx)
    inc = still_open(ctx, Incident, number, "IN")
    inc.resolution, inc.resolved_by_id, inc.resolved_at = cmd.text, ctx.actor.person_id, ctx.now
    audit(ctx, "incident.resolved", org_id=inc.org_id, incident=inc.ref)
    org = s.get_one(Org, inc.org_id)
    reply = Reply(tone=Tone.SUCCESS, text=f"{inc.ref} ({inc.kind}, {org.name}) is resolved: “{cmd.text}”")
    for p in admins_of(s, inc.org_id):  # the resolution is the home MSP's own note: not sent to the partner
        reply.tell(Message(audience=Audience.DM, person_id=p.id, title=f"Incident {inc.ref} closed",
                           text=f"{ctx.actor.org_name} closed {inc.ref} ({inc.kind}, recorded "
                           f"{when(inc.at, p.timezone or ctx.home_timezone)})."))
    return reply


RESOLVERS["IN"] = resolve_incident


def open_incident_lines(s: Session, now: datetime, limit: int = 8) -> list[str]:
    """The oldest open incidents, each with its partner, for the digest."""
    return [f"{i.org}: {one_line(i, now)}" for i in incidents(session=s, open_only=True, limit=limit)]
