"""Surge requests: post, list, status, cancel, audit."""
from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlmodel import Session, col, select

from handlers.common import (
    audit,
    get_request,
    is_closed,
    money,
    plural,
    session,
    to_utc,
    when,
)
from handlers.errors import Conflict, NotFound, UsageError
from handlers.grammar import Arg, Kind, Opt
from handlers.registry import command
from handlers.types import Audience, CardChange, Context, Form, Message, Reply, Tone
from handlers.views import (
    STATUS_WORDS,
    PublicRequest,
    answer,
    claim_line,
    claims_of,
    customer_of,
    dispatch_card,
    not_offered,
    partner_card,
    reveal,
)
from models.queries import unreachable_teams_channels
from models.tables import (
    LIVE_CLAIM,
    AuditEntry,
    ChannelPurpose,
    Claim,
    ClaimStatus,
    Person,
    RequestStatus,
    Role,
    SurgeRequest,
    pk,
)

REQUEST_EXAMPLE = 'request "DST patch, Main St office" units=40 deadline=2027-03-10 pay=35 bill=60 town="Hicksville"'
MAX_TIER = 9


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
    loss: bool = False  # `loss=ok`: post it although the bill rate is below the pay

    @field_validator("loss", mode="before")
    @classmethod
    def _loss(cls, v):
        if isinstance(v, str):
            if v.strip().lower() not in ("ok", "yes"):
                raise ValueError(f"loss takes one value, ok (to post a request whose bill rate is below its pay), "
                                 f"not “{v[:20]}”")
            return True
        return v

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
        if not 1 <= self.tier <= MAX_TIER:
            raise ValueError(f"Tier must be between 1 and {MAX_TIER}")
        return self


# Words of a customer, site or contact that say nothing about who or where it is: a title may use them.
COMMON_WORDS = frozenset("""
    main street road avenue lane drive court place suite floor office offices building north south east west
    center centre park plaza square boulevard highway route unit room level store shop branch campus hall
    city town county village upper lower front back side first second third fourth fifth
    company group services service solutions systems technologies technology associates partners holdings
    international enterprises corporation incorporated limited industries dental medical clinic practice
    health care family school church bank hotel restaurant
    phone mobile cell email call contact desk reception manager owner only after before ask with from
    st rd ave dr ln blvd hwy ste fl apt no the and of at for
""".split())
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")
LEAK_RULE = ("Checked: the whole customer, site and contact, any two of their words in a row, and each of "
             "their words of 4 or more letters, leaving out short numbers, the town's words and common words "
             "like Main, Street, Office, Suite.")


def _plain(text: str) -> str:
    return " ".join(text.split()).casefold()


def _mentions(text: str, value: str) -> bool:
    """`value` in `text` as whole words, ignoring case."""
    return re.search(rf"(?<![^\W_]){re.escape(value)}(?![^\W_])", text) is not None


def leaks(cmd: PostRequest) -> list[tuple[str, str]]:
    """Where the title or scope, which every partner reads, names the customer, site or contact, or the
    town names the customer or contact: (the field, what to tell the dispatcher), the first one in each."""
    town = {w.casefold() for w in _WORD.findall(cmd.town)} | {_plain(cmd.town)}

    def telling(word: str) -> bool:  # a word that says something about who or where
        w = word.casefold()
        return w not in COMMON_WORDS and w not in town and not (w.isdecimal() and len(w) <= 5)

    found: list[tuple[str, str]] = []
    for where in ("title", "scope"):
        text = _plain(getattr(cmd, where) or "")
        if not text:
            continue
        for private in ("customer", "site", "contact"):
            value = " ".join(getattr(cmd, private).split())
            words = _WORD.findall(value)
            whole = value.casefold()
            pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False) if telling(a) or telling(b)]
            if len(whole) >= 3 and whole not in town and _mentions(text, whole):
                hit: str | None = f"“{value}”: it is the {private}"
            else:
                hit = next((f"“{p}”: these are words of the {private} (“{value}”)" for p in pairs
                            if _mentions(text, p.casefold())), None) or next(
                    (f"“{w}”: it is a word of the {private} (“{value}”)" for w in words
                     if len(w) >= 4 and telling(w) and _mentions(text, w.casefold())), None)
            if hit:
                found.append((where, f"The {where} can't contain {hit}. The title and scope go to every partner; "
                              f"the customer, site and contact only to the tech who claims the work. "
                              f"Reword the {where}. ({LEAK_RULE})"))
                break
    for private in ("customer", "contact"):  # the town is public too (the site is where it is, so it may match)
        value = " ".join(getattr(cmd, private).split())
        if len(value) >= 3 and _mentions(_plain(cmd.town), value.casefold()):
            found.append(("town", f"The town can't contain “{value}”: it is the {private}. The town goes to every "
                                  "partner; give the area only, like town=Hicksville."))
            break
    return found


def request_problems(cmd: PostRequest) -> list[tuple[str, str]]:
    """What keeps a complete request from being posted, as (field, why), in the order a dispatcher
    fixes them: the pay and the town partners decide on, a bill rate that loses money, and a title or
    scope that names the customer, the site or the contact. The same for the text command and the form."""
    problems: list[tuple[str, str]] = []
    if cmd.pay <= 0:
        problems.append(("pay", "A request needs pay=… above $0 (dollars per unit to the partner, like pay=35): "
                                "partners decide on it."))
    if not cmd.town.strip():
        problems.append(("town", 'A request needs town=… (the area partners see, like town=Hicksville; quote it '
                                 'if it has spaces: town="Oyster Bay").'))
    if cmd.bill and 0 < cmd.pay and cmd.bill < cmd.pay and not cmd.loss:
        problems.append(("bill", f"The bill rate {money(cmd.bill)} is below the pay {money(cmd.pay)}: every unit "
                                 f"loses {money(cmd.pay - cmd.bill)}. Raise the bill rate, or add loss=ok to post it "
                                 "anyway."))
    return problems + leaks(cmd)


def check_request(ctx: Context, cmd: PostRequest, *, example: str) -> tuple[datetime, datetime | None]:
    """Refuse a request that may not stand as it is (`request_problems`, a deadline already passed, a
    window that starts after its deadline); its deadline and start in UTC. For `request` and `edit` alike."""
    problems = request_problems(cmd)
    if problems:
        raise UsageError(problems[0][1], example=example)
    assert cmd.deadline is not None  # PostRequest requires it once there is a title
    deadline = to_utc(ctx, cmd.deadline)
    if deadline <= ctx.now:
        raise UsageError(f"The deadline {when(deadline, ctx.actor.tz)} has already passed.", example=example)
    start = to_utc(ctx, cmd.start) if cmd.start else None
    if start and start >= deadline:
        raise UsageError("The start of the window must be before the deadline.", example=example)
    return deadline, start


@command(
    "request", summary="post a surge request (no arguments: open the form)",
    usage='request "Title" units=N deadline=YYYY-MM-DD pay=35 town="…" [minutes=30] [bill=60] [skills=a,b] '
    '[scope="…"] [customer="…"] [site="…"] [contact="…"] [approval=yes] [tier=1] [loss=ok]',
    example=REQUEST_EXAMPLE, roles={Role.DISPATCHER}, who="dispatchers",
    args=[Arg("title", Kind.TEXT, required=False, max_len=150)],
    opts={
        "units": Opt(Kind.UNITS), "deadline": Opt(Kind.DATE), "minutes": Opt(Kind.INT),
        "pay": Opt(Kind.MONEY), "bill": Opt(Kind.MONEY), "skills": Opt(Kind.LIST),
        "scope": Opt(Kind.TEXT, max_len=2000), "customer": Opt(Kind.TEXT), "site": Opt(Kind.TEXT, max_len=300),
        "town": Opt(Kind.TEXT, max_len=120), "contact": Opt(Kind.TEXT, max_len=300), "approval": Opt(Kind.BOOL),
        "tier": Opt(Kind.INT), "delay": Opt(Kind.INT), "start": Opt(Kind.DATE), "loss": Opt(Kind.WORD),
    },
)
def post_request(cmd: PostRequest, ctx: Context) -> Reply:
    if cmd.title is None:
        return Reply(text="Fill in the request form.", form=Form.REQUEST)
    deadline, start = check_request(ctx, cmd, example=REQUEST_EXAMPLE)
    assert cmd.units is not None  # PostRequest requires it once there is a title
    req = SurgeRequest(
        title=cmd.title, scope=cmd.scope, skills=cmd.skills, units=cmd.units, minutes_per_unit=cmd.minutes,
        pay_cents=cmd.pay, bill_cents=cmd.bill, window_start=start, deadline=deadline,
        customer=cmd.customer, site=cmd.site, town=cmd.town, contact=cmd.contact,
        approval_required=cmd.approval, tier=cmd.tier, visible_tier=cmd.tier, tier_delay_minutes=cmd.delay,
        created_by_id=ctx.actor.pid, created_at=ctx.now, updated_at=ctx.now,
    )
    s = session(ctx)
    s.add(req)
    s.flush()
    audit(ctx, "request.posted", request=req, units=req.units, title=req.title, tier=req.tier)
    warn = ""
    if cmd.bill and cmd.pay > cmd.bill:
        warn = (f"\nNote: pay {money(cmd.pay)} is above the bill rate {money(cmd.bill)}; every unit loses "
                f"{money(cmd.pay - cmd.bill)} (posted with loss=ok).")
    reply = Reply(
        text=f"Posted *{req.ref}* · {req.title}: {plural(req.units, 'unit')} by {when(deadline, ctx.actor.tz)}, "
        f"to tier {req.tier} partner channels and dispatch.{warn}",
        tone=Tone.SUCCESS,
    ).card(pk(req), CardChange.POST)
    return reveal(reply, req)  # the dispatcher sees the private details they entered


class ListRequests(BaseModel):
    pass


@command("list", summary="open requests you may see", usage="list", example="list", reads_only=True)
def list_requests(cmd: ListRequests, ctx: Context) -> Reply:
    s = session(ctx)
    shown: tuple[RequestStatus, ...] = (RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED)
    stmt = select(SurgeRequest).where(SurgeRequest.deadline > ctx.now)
    if ctx.actor.is_home:
        shown += (RequestStatus.FULLY_CLAIMED,)
    else:  # a partner sees a request once it is offered as wide as the partner's tier
        stmt = stmt.where(SurgeRequest.visible_tier >= ctx.actor.tier)
    rows = s.exec(stmt.where(col(SurgeRequest.status).in_(shown)).order_by(col(SurgeRequest.deadline)).limit(40)).all()
    if not rows:
        return Reply(text="No open requests right now.")
    tz = ctx.actor.tz
    reply = Reply(title="Open requests", text="")
    lines = []
    for r in rows:
        customer = customer_of(reply, r) if ctx.actor.is_home else ""
        lines.append(f"*{r.ref}* {r.title} · {r.units_left:,}/{r.units:,} left · "
                     + (f"{customer} · " if customer else "")
                     + f"{r.town or '—'} · {money(r.pay_cents)}/unit · due {when(r.deadline, tz)}")
    reply.text = "\n".join(lines)
    return reply


class ShowStatus(BaseModel):
    request: int


@command("status", summary="one request and its claims", usage="status SR-7", example="status SR-7",
         args=[Arg("request", Kind.REQUEST)], reads_only=True)
def status(cmd: ShowStatus, ctx: Context) -> Reply:
    s = session(ctx)
    req = get_request(ctx, cmd.request)
    tz = str(ctx.actor.tz)
    claims = claims_of(s, pk(req))
    if ctx.actor.is_home:
        card = dispatch_card(req, claims, tz)
        return answer(card, text="\n".join([card.text, *unreached_lines(s, req)]))
    mine = [(c, p, o) for c, p, o in claims if p.id == ctx.actor.person_id]
    if req.visible_tier < ctx.actor.tier and not mine:
        raise NotFound(not_offered(req.ref, req.visible_tier, ctx.actor))
    card = partner_card(PublicRequest.of(req), tz)
    reply = answer(card)
    if mine:
        reply.text += "\n*Your claims*\n" + "\n".join("• " + claim_line(c, p, o, tz) for c, p, o in mine)
        if any(c.status in LIVE_CLAIM for c, _, _ in mine):
            reveal(reply, req)
    return reply


def unreached_lines(s: Session, req: SurgeRequest) -> list[str]:
    """For home staff: each Teams channel this request's card should be in that never spoke to Surge,
    which Teams gives the bot no way to post into yet, and how to fix that."""
    if is_closed(req):
        return []
    lines = []
    for chan in unreachable_teams_channels(session=s):
        if chan.purpose == ChannelPurpose.PARTNERS and chan.tier is not None and chan.tier <= req.visible_tier:
            where = f"partners, tier {chan.tier}"
        elif chan.purpose == ChannelPurpose.DISPATCH:
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
    for claim in s.exec(select(Claim).where(Claim.request_id == req.id, col(Claim.status).in_(LIVE_CLAIM))).all():
        was = claim.status
        claim.status = ClaimStatus.CANCELLED
        claim.closed_at = ctx.now
        req.units_taken -= claim.units
        audit(ctx, "claim.cancelled", claim=claim, units=claim.units, was=was)
        person = s.get_one(Person, claim.person_id)
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
    return reply.card(pk(req))


class ShowAudit(BaseModel):
    request: int


@command("audit", summary="a request's full history", usage="audit SR-7", example="audit SR-7",
         roles={Role.DISPATCHER, Role.MANAGER}, who="dispatchers, managers", args=[Arg("request", Kind.REQUEST)], reads_only=True)
def show_audit(cmd: ShowAudit, ctx: Context) -> Reply:
    s = session(ctx)
    req = get_request(ctx, cmd.request)
    rows = s.exec(
        select(AuditEntry, Person).join(Person, col(AuditEntry.actor_id) == Person.id, isouter=True)
        .where(AuditEntry.request_id == req.id).order_by(col(AuditEntry.id))
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
    # Private even without a customer: the history keeps what techs reported from the site, word for word.
    reply = Reply(title=f"History of {req.ref} · {req.title}", text=more + "\n".join(shown), private=True)
    return reveal(reply, req)

