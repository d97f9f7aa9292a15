"""Surge requests: post, list, status, cancel, audit."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session, select

from handlers.common import (
    audit, get_request, is_closed, money, plural, session, to_utc, when,
)
from handlers.errors import Conflict, UsageError
from handlers.grammar import Arg, Kind, Opt
from handlers.registry import command
from handlers.types import Audience, CardChange, Context, Fact, Form, Message, Reply, Tone
from handlers.views import (
    STATUS_WORDS, PublicRequest, claim_line, claims_of, dispatch_card, partner_card,
)
from models.queries import unreachable_teams_channels
from models.tables import (
    LIVE_CLAIM, AuditEntry, Claim, ClaimStatus, Person, RequestStatus, Role, SurgeRequest,
)

REQUEST_EXAMPLE = 'request "DST patch, Main St office" units=40 deadline=2027-03-10 pay=35 bill=60 town="Hicksville"'


class PostRequest(BaseModel):
    """Also what the request form submits."""

    title: str | None = None
    units: int | None = None
    deadline: datetime | None = None  # naive, in the sender's time zone
    minutes: int = 30
    pay: int = 0  # cents per unit to the partner
    bill: int = 0  # cents per unit to the customer
    skills: list[str] = Field(default_factory=list)
    scope: str = ""
    customer: str = ""
    site: str = ""
    town: str = ""
    contact: str = ""
    approval: bool = False
    tier: int = 1
    delay: int = 30  # minutes before widening to the next tier
    start: datetime | None = None

    @model_validator(mode="after")
    def _whole(self) -> PostRequest:
        given = self.model_fields_set - {"title"}
        if self.title is None and not given:
            return self  # no arguments: open the form
        if not self.title:
            raise ValueError("A request needs a title, in quotes")
        if self.units is None:
            raise ValueError("A request needs units=… (how many units of work)")
        if self.deadline is None:
            raise ValueError("A request needs deadline=… (a date like 2027-03-10)")
        if self.tier > 9:
            raise ValueError("Tier must be between 1 and 9")
        return self


@command(
    "request", summary="post a surge request (no arguments: open the form)",
    usage='request "Title" units=N deadline=YYYY-MM-DD [minutes=30] [pay=35] [bill=60] [skills=a,b] '
    '[scope="…"] [customer="…"] [site="…"] [town="…"] [contact="…"] [approval=yes] [tier=1]',
    example=REQUEST_EXAMPLE, roles={Role.DISPATCHER}, who="dispatchers",
    args=[Arg("title", Kind.TEXT, required=False, rest=True, max_len=150)],
    opts={
        "units": Opt(Kind.UNITS), "deadline": Opt(Kind.DATE), "minutes": Opt(Kind.INT),
        "pay": Opt(Kind.MONEY), "bill": Opt(Kind.MONEY), "skills": Opt(Kind.LIST),
        "scope": Opt(Kind.TEXT, max_len=2000), "customer": Opt(Kind.TEXT), "site": Opt(Kind.TEXT, max_len=300),
        "town": Opt(Kind.TEXT, max_len=120), "contact": Opt(Kind.TEXT, max_len=300), "approval": Opt(Kind.BOOL),
        "tier": Opt(Kind.INT), "delay": Opt(Kind.INT), "start": Opt(Kind.DATE),
    },
)
def post_request(cmd: PostRequest, ctx: Context) -> Reply:
    if cmd.title is None:
        return Reply(text="Fill in the request form.", form=Form.REQUEST)
    deadline = to_utc(ctx, cmd.deadline)
    if deadline <= ctx.now:
        raise UsageError(f"The deadline {when(deadline, ctx.actor.tz)} has already passed.", example=REQUEST_EXAMPLE)
    start = to_utc(ctx, cmd.start) if cmd.start else None
    if start and start >= deadline:
        raise UsageError("The start of the window must be before the deadline.", example=REQUEST_EXAMPLE)
    req = SurgeRequest(
        title=cmd.title, scope=cmd.scope, skills=cmd.skills, units=cmd.units, minutes_per_unit=cmd.minutes,
        pay_cents=cmd.pay, bill_cents=cmd.bill, window_start=start, deadline=deadline,
        customer=cmd.customer, site=cmd.site, town=cmd.town, contact=cmd.contact,
        approval_required=cmd.approval, tier=cmd.tier, visible_tier=cmd.tier, tier_delay_minutes=cmd.delay,
        created_by_id=ctx.actor.person_id, created_at=ctx.now, updated_at=ctx.now,
    )
    s = session(ctx)
    s.add(req)
    s.flush()
    audit(ctx, "request.posted", request=req, units=req.units, title=req.title, tier=req.tier)
    warn = ""
    if cmd.bill and cmd.pay > cmd.bill:
        warn = f"\nNote: pay {money(cmd.pay)} is above the bill rate {money(cmd.bill)}; every unit loses money."
    return Reply(
        text=f"Posted *{req.ref}* · {req.title}: {plural(req.units, 'unit')} by {when(deadline, ctx.actor.tz)}, "
        f"to tier {req.tier} partner channels and dispatch.{warn}",
        tone=Tone.SUCCESS,
    ).card(req.id, CardChange.POST)


class ListRequests(BaseModel):
    pass


@command("list", summary="open requests you may see", usage="list", example="list", reads_only=True)
def list_requests(cmd: ListRequests, ctx: Context) -> Reply:
    s = session(ctx)
    shown = (RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED)
    if ctx.actor.is_home:
        shown += (RequestStatus.FULLY_CLAIMED,)
    rows = s.exec(
        select(SurgeRequest).where(SurgeRequest.status.in_(shown), SurgeRequest.deadline > ctx.now)
        .order_by(SurgeRequest.deadline).limit(40)
    ).all()
    if not rows:
        return Reply(text="No open requests right now.")
    tz = ctx.actor.tz
    lines = [
        f"*{r.ref}* {r.title} · {r.units_left:,}/{r.units:,} left · {r.town or '—'} · "
        f"{money(r.pay_cents)}/unit · due {when(r.deadline, tz)}"
        for r in rows
    ]
    return Reply(title="Open requests", text="\n".join(lines))


class ShowStatus(BaseModel):
    request: int


@command("status", summary="one request and its claims", usage="status SR-7", example="status SR-7",
         args=[Arg("request", Kind.REQUEST)], reads_only=True)
def status(cmd: ShowStatus, ctx: Context) -> Reply:
    s = session(ctx)
    req = get_request(ctx, cmd.request)
    tz = str(ctx.actor.tz)
    claims = claims_of(s, req.id)
    if ctx.actor.is_home:
        card = dispatch_card(req, claims, tz)
        text = "\n".join([card.text, *unreached_lines(s, req)])
        return Reply(title=card.title, text=text, fields=card.fields, actions=card.actions)
    card = partner_card(PublicRequest.of(req), tz)
    mine = [(c, p, o) for c, p, o in claims if p.id == ctx.actor.person_id]
    text = card.text
    fields = list(card.fields)
    if mine:
        text += "\n*Your claims*\n" + "\n".join("• " + claim_line(c, p, o, tz) for c, p, o in mine)
        if any(c.status in LIVE_CLAIM for c, _, _ in mine):
            fields = [Fact(label="Customer", value=req.customer or "—"), Fact(label="Site", value=req.site or "—"),
                      Fact(label="Contact", value=req.contact or "—"), *fields]
    return Reply(title=card.title, text=text, fields=fields, actions=card.actions)


def unreached_lines(s: Session, req: SurgeRequest) -> list[str]:
    """For home staff: each Teams channel this request's card should be in that never spoke to Surge,
    which Teams gives the bot no way to post into yet, and how to fix that."""
    if is_closed(req):
        return []
    lines = []
    for chan in unreachable_teams_channels(session=s):
        if chan.purpose == "partners" and chan.tier is not None and chan.tier <= req.visible_tier:
            where = f"partners, tier {chan.tier}"
        elif chan.purpose == "dispatch":
            where = "dispatch"
        else:
            continue
        lines.append(f"⚠️ Teams channel {chan.name or chan.external_id} ({where}) has not spoken to Surge yet, "
                     f"so {req.ref}'s card can't be posted there: add the Surge app to its team, or @mention "
                     "Surge in the channel once.")
    return lines


class CancelRequest(BaseModel):
    request: int
    why: str = ""


@command("cancel", summary="cancel a request; claimants are told", usage='cancel SR-7 ["why"]',
         example='cancel SR-7 "customer postponed"', roles={Role.DISPATCHER}, who="dispatchers",
         args=[Arg("request", Kind.REQUEST), Arg("why", Kind.TEXT, required=False, rest=True, max_len=500)])
def cancel(cmd: CancelRequest, ctx: Context) -> Reply:
    s = session(ctx)
    req = get_request(ctx, cmd.request, lock=True)
    if is_closed(req):
        raise Conflict(f"{req.ref} is already {STATUS_WORDS[req.status].lower()}.")
    reply = Reply(text="", tone=Tone.SUCCESS)
    told = []
    for claim in s.exec(select(Claim).where(Claim.request_id == req.id, Claim.status.in_(LIVE_CLAIM))).all():
        was = claim.status
        claim.status = ClaimStatus.CANCELLED
        claim.closed_at = ctx.now
        req.units_taken -= claim.units
        audit(ctx, "claim.cancelled", claim=claim, units=claim.units, was=was)
        person = s.get(Person, claim.person_id)
        told.append(person.name)
        reply.tell(Message(
            audience=Audience.DM, person_id=claim.person_id, request_id=req.id, tone=Tone.WARNING,
            text=f"{req.ref} · {req.title} was cancelled by {ctx.actor.name}"
            + (f": {cmd.why}" if cmd.why else ".") + f" Your {plural(claim.units, 'unit')} are released; "
            "don't go on site for it.",
        ))
    req.status = RequestStatus.CANCELLED
    req.status_reason = cmd.why
    req.updated_at = ctx.now
    audit(ctx, "request.cancelled", request=req, why=cmd.why)
    reply.text = f"Cancelled {req.ref}." + (f" Told {', '.join(told)}." if told else " Nobody had claimed it.")
    return reply.card(req.id)


class ShowAudit(BaseModel):
    request: int


@command("audit", summary="a request's full history", usage="audit SR-7", example="audit SR-7",
         roles={Role.DISPATCHER, Role.MANAGER}, who="dispatchers, managers", args=[Arg("request", Kind.REQUEST)], reads_only=True)
def show_audit(cmd: ShowAudit, ctx: Context) -> Reply:
    s = session(ctx)
    req = get_request(ctx, cmd.request)
    rows = s.exec(
        select(AuditEntry, Person).join(Person, AuditEntry.actor_id == Person.id, isouter=True)
        .where(AuditEntry.request_id == req.id).order_by(AuditEntry.id)
    ).all()
    tz = ctx.actor.tz
    lines = []
    for entry, person in rows:
        detail = ", ".join(f"{k}={v}" for k, v in entry.detail.items() if v not in ("", None))
        units = f" {plural(entry.units, 'unit')}" if entry.units is not None else ""
        lines.append(
            f"{when(entry.at, tz)} · {person.name if person else 'Surge'} · {entry.action}{units}"
            + (f" ({detail})" if detail else "")
        )
    shown = lines[-60:]
    more = f"…{len(lines) - len(shown)} earlier entries not shown\n" if len(lines) > len(shown) else ""
    return Reply(title=f"History of {req.ref} · {req.title}", text=more + "\n".join(shown))

