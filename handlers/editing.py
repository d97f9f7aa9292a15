"""Keeping a posted request in hand: `edit` it, `reopen` it, `widen` it now.

An edit goes through the same checks as posting (`check_request`) applied to the request as it
would stand after the edit, under the request's row lock, so an edit of `units` racing claims never
leaves more units claimed than the request has. Every copy of the card is re-rendered in place; the
people holding a claim are told what changed for them.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from sqlmodel import col, delete, select

from handlers.clock import _next_tier, _tiers, widen_to
from handlers.common import (
    audit,
    get_request,
    is_closed,
    money,
    plural,
    reader_zone,
    refresh_status,
    session,
    to_utc,
    when,
)
from handlers.errors import Conflict, UsageError
from handlers.forms import Errors, FormField, Values, request_values
from handlers.grammar import Arg, Kind, Opt
from handlers.registry import command
from handlers.requests import MAX_TIER, PostRequest, check_request
from handlers.types import Audience, CardChange, Context, Fact, Form, Message, Reply, Tone
from handlers.views import STATUS_WORDS, has_private, tiers_text
from models.tables import (
    LIVE_CLAIM,
    PENDING_POST,
    Claim,
    ClaimStatus,
    Person,
    PostedCard,
    RequestStatus,
    Role,
    SurgeRequest,
    pk,
)

EDIT_EXAMPLE = 'edit SR-7 units=30 deadline=2027-03-12 site="14 Main St, Hicksville"'
# the `edit` option → the request's column
COLUMNS = {
    "units": "units", "deadline": "deadline", "pay": "pay_cents", "bill": "bill_cents", "minutes": "minutes_per_unit",
    "title": "title", "scope": "scope", "skills": "skills", "town": "town", "customer": "customer", "site": "site",
    "contact": "contact", "approval": "approval_required",
}
PRIVATE = ("customer", "site", "contact")
# what a claimant is told about, in this order, with the label they read
FOR_CLAIMANT = {
    "deadline": "Deadline", "title": "Title", "scope": "Scope", "town": "Area", "customer": "Customer",
    "site": "Site", "contact": "Contact", "minutes_per_unit": "Minutes per unit", "pay_cents": "Pay",
}


class EditRequest(BaseModel):
    request: int
    units: int | None = None
    deadline: datetime | None = None  # naive, in the sender's time zone
    pay: int | None = None
    bill: int | None = None
    minutes: int | None = None
    title: str | None = None
    scope: str | None = None
    skills: list[str] | None = None
    town: str | None = None
    customer: str | None = None
    site: str | None = None
    contact: str | None = None
    approval: bool | None = None
    loss: str | None = None  # `loss=ok`, as for `request`


@command(
    "edit", summary="change an open request; every copy of its card updates and claimants are told",
    usage='edit SR-7 [units=N] [deadline=…] [pay=…] [bill=…] [minutes=…] [title="…"] [scope="…"] [skills=a,b] '
    '[town="…"] [customer="…"] [site="…"] [contact="…"] [approval=yes|no] [loss=ok]',
    example=EDIT_EXAMPLE, roles={Role.DISPATCHER}, who="dispatchers",
    args=[Arg("request", Kind.REQUEST)],
    opts={
        "units": Opt(Kind.UNITS), "deadline": Opt(Kind.DATE), "minutes": Opt(Kind.INT), "pay": Opt(Kind.MONEY),
        "bill": Opt(Kind.MONEY), "skills": Opt(Kind.LIST), "title": Opt(Kind.TEXT, max_len=150),
        "scope": Opt(Kind.TEXT, max_len=2000), "customer": Opt(Kind.TEXT), "site": Opt(Kind.TEXT, max_len=300),
        "town": Opt(Kind.TEXT, max_len=120), "contact": Opt(Kind.TEXT, max_len=300), "approval": Opt(Kind.BOOL),
        "loss": Opt(Kind.WORD),
    },
)
def edit(cmd: EditRequest, ctx: Context) -> Reply:
    req = get_request(ctx, cmd.request, lock=True)  # claims of this request wait for the edit, and see it
    if is_closed(req):
        again = f" Type `reopen {req.ref}` to open it again first." if req.status in (
            RequestStatus.CANCELLED, RequestStatus.EXPIRED) else ""
        raise Conflict(f"{req.ref} is {STATUS_WORDS[req.status].lower()}; only an open request can be edited.{again}")
    given = {name: getattr(cmd, name) for name in COLUMNS if getattr(cmd, name) is not None}
    if not given:  # `edit SR-7` alone (the card's Edit button): the request form, as the request stands
        return Reply(text=f"Change {req.ref} in the request form, or type the changes, like "
                     f"`{EDIT_EXAMPLE.replace('SR-7', req.ref)}`.", form=Form.REQUEST,
                     prefill=form_values(req, ctx.actor.tz), edits=req.id, private=has_private(req))
    deadline, _ = check_request(ctx, as_posted(ctx, req, given, cmd.loss), example=EDIT_EXAMPLE)
    if cmd.units is not None and cmd.units < req.units_taken:
        raise Conflict(f"{plural(req.units_taken, 'unit')} of {req.ref} {'is' if req.units_taken == 1 else 'are'} "
                       f"claimed already, so units can't go below {req.units_taken:,}.",
                       example=f"edit {req.ref} units={req.units_taken}")
    new = {COLUMNS[name]: value for name, value in given.items()} | ({"deadline": deadline} if cmd.deadline else {})
    changed = {col: (getattr(req, col), value) for col, value in new.items() if getattr(req, col) != value}
    if not changed:
        return Reply(text=f"Nothing to change: {req.ref} already has those values.")
    for field, (_, value) in changed.items():
        setattr(req, field, value)
    refresh_status(req, ctx.now)
    audit(ctx, "request.edited", request=req, units=req.units, **audit_detail(changed))
    reply = Reply(text="", tone=Tone.SUCCESS).card(pk(req))
    told = tell_claimants(ctx, req, changed, reply)
    tz = str(ctx.actor.tz)
    reply.text = (f"Edited {req.ref} · {req.title}: " + "; ".join(describe(col, old, value, tz)
                                                                    for col, (old, value) in changed.items())
                  + ". Every copy of its card is updated." + (f" Told {', '.join(told)}." if told else ""))
    return reply


def form_values(req: SurgeRequest, tz: ZoneInfo) -> dict[str, str]:
    """The request as the request form shows it (field → text), its deadline in the reader's time zone."""
    deadline = req.deadline.astimezone(tz)
    return {
        FormField.TITLE: req.title, FormField.UNITS: str(req.units), FormField.DEADLINE: f"{deadline:%Y-%m-%dT%H:%M}",
        FormField.DEADLINE_TIME: f"{deadline:%H:%M}", FormField.MINUTES: str(req.minutes_per_unit),
        FormField.PAY: dollars(req.pay_cents), FormField.BILL: dollars(req.bill_cents) if req.bill_cents else "",
        FormField.SKILLS: ", ".join(req.skills), FormField.SCOPE: req.scope, FormField.TOWN: req.town,
        FormField.CUSTOMER: req.customer, FormField.SITE: req.site, FormField.CONTACT: req.contact,
        FormField.APPROVAL: "yes" if req.approval_required else "no", FormField.TIER: str(req.tier),
    }


# what an emptied field of the form means for `edit` (a field left out of this is kept as it was)
CLEARED = {"bill": 0, "skills": [], "scope": "", "customer": "", "site": "", "contact": "", "pay": 0, "town": ""}


def edit_from_fields(request: int, values: Values, before: Values) -> tuple[EditRequest | None, Errors]:
    """The `edit` an edit form asks for: the fields whose value differs from `before` (the request as
    it stands), or the errors to show beside the fields."""
    now, errors = request_values(values)
    was, _ = request_values(before)
    if errors:
        return None, errors
    if now.get("tier", 1) != was.get("tier", 1):
        return None, {FormField.TIER: f"A request's tier is not edited; widen it instead: `widen SR-{request} "
                                      f"tier={now.get('tier', 1)}`."}
    changed = {name: now.get(name, CLEARED.get(name)) for name in COLUMNS
               if name in now.keys() | was.keys() and now.get(name, CLEARED.get(name)) != was.get(name, CLEARED.get(name))}
    changed = {name: value for name, value in changed.items() if value is not None}
    if not changed:
        return None, {FormField.TITLE: f"Nothing to change: SR-{request} already has these values."}
    return EditRequest(request=request, **changed), {}


def dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def edit_values(ctx: Context, request_id: int) -> dict[str, str]:
    """A request's form values as they stand now, for a dispatcher (an edit form's submit is read against
    them: only what differs is changed); nothing for anyone else, or for a request that is gone."""
    req = session(ctx).get(SurgeRequest, request_id)
    return form_values(req, ctx.actor.tz) if req is not None and ctx.actor.has(Role.DISPATCHER) else {}


def as_posted(ctx: Context, req: SurgeRequest, given: dict, loss: str | None) -> PostRequest:
    """The request as it would stand after the edit, as `request` would have been given it. A bill
    below the pay that the edit does not touch was accepted when it was posted."""
    tz = ctx.actor.tz
    values = dict(
        title=req.title, units=req.units, deadline=req.deadline.astimezone(tz).replace(tzinfo=None),
        minutes=req.minutes_per_unit, pay=req.pay_cents, bill=req.bill_cents, skills=req.skills, scope=req.scope,
        customer=req.customer, site=req.site, town=req.town, contact=req.contact, approval=req.approval_required,
        tier=req.tier, start=req.window_start.astimezone(tz).replace(tzinfo=None) if req.window_start else None,
    ) | given
    values["loss"] = loss if loss is not None else not ({"pay", "bill"} & given.keys())
    try:
        return PostRequest(**values)
    except ValidationError as exc:
        raise UsageError(f"{exc.errors()[0]['msg'].removeprefix('Value error, ')}.", example=EDIT_EXAMPLE) from None


def audit_detail(changed: dict) -> dict:
    """What the audit keeps of an edit: which fields changed, and the old and new values of the public
    figures only (never a customer, site or contact)."""
    detail: dict = {"changed": ", ".join(changed)}
    for field in ("units", "deadline", "pay_cents", "bill_cents", "minutes_per_unit", "approval_required"):
        if field in changed:
            old, new = changed[field]
            detail["request_units" if field == "units" else field] = f"{_plain(old)} → {_plain(new)}"
    return detail


def _plain(value) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def describe(col: str, old, new, tz: str) -> str:
    """One change, as the dispatcher who made it reads it."""
    if col == "deadline":
        return f"deadline {when(new, tz)} (was {when(old, tz)})"
    if col in ("pay_cents", "bill_cents"):
        return f"{col.removesuffix('_cents')} {money(new)} per unit (was {money(old)}; applies to later claims)"
    if col == "approval_required":
        return "claims now need approval" if new else "claims no longer need approval"
    if col in ("units", "minutes_per_unit"):
        return f"{col.replace('_', ' ')} {new:,} (was {old:,})"
    if col == "skills":
        return f"skills {', '.join(new) or '—'}"
    return f"{col} changed"  # title, scope, town and the private details: the card shows them


def tell_claimants(ctx: Context, req: SurgeRequest, changed: dict, reply: Reply) -> list[str]:
    """A DM to each person holding a live claim, with what changed for them, in their time zone."""
    cols = [col for col in FOR_CLAIMANT if col in changed]
    if not cols:
        return []
    s = session(ctx)
    told = []
    rows = s.exec(select(Claim, Person).where(Claim.request_id == req.id, col(Claim.status).in_(LIVE_CLAIM),
                                              Claim.person_id == Person.id).order_by(col(Claim.id))).all()
    for claim, person in rows:
        # a claim still waiting for approval has not been given the customer, site or contact
        theirs = [col for col in cols if claim.status != ClaimStatus.PENDING or col not in PRIVATE]
        if not theirs:
            continue
        tz = reader_zone(s, person, ctx.home_timezone)
        reply.tell(Message(
            audience=Audience.DM, person_id=person.id, request_id=req.id, tone=Tone.WARNING,
            private=any(col in PRIVATE for col in theirs),
            fields=[claimant_fact(col, changed[col][1], tz) for col in theirs],
            title=f"{req.ref} · {req.title} has changed",
            text=f"{ctx.actor.name} changed {req.ref}, which you hold {plural(claim.units, 'unit')} of. Now:",
        ))
        told.append(person.name)
    return told


def claimant_fact(col: str, value, tz: str) -> Fact:
    label = FOR_CLAIMANT[col]
    if col == "deadline":
        return Fact(label=label, value=when(value, tz), at=value)
    if col == "pay_cents":
        return Fact(label=label, value=f"{money(value)} per unit; applies to later claims, not to yours")
    if col == "minutes_per_unit":
        return Fact(label=label, value=f"about {value} min each")
    return Fact(label=label, value=value or "—")


class ReopenRequest(BaseModel):
    request: int
    deadline: datetime | None = None  # naive, in the sender's time zone


@command(
    "reopen", summary="open a cancelled or expired request again; its cards are posted afresh",
    usage="reopen SR-7 [deadline=YYYY-MM-DD]", example="reopen SR-7 deadline=2027-03-17",
    roles={Role.DISPATCHER}, who="dispatchers", args=[Arg("request", Kind.REQUEST)],
    opts={"deadline": Opt(Kind.DATE)},
)
def reopen(cmd: ReopenRequest, ctx: Context) -> Reply:
    req = get_request(ctx, cmd.request, lock=True)
    tz = ctx.actor.tz
    if req.status not in (RequestStatus.CANCELLED, RequestStatus.EXPIRED):
        still = " It is still open: `edit` changes it." if not is_closed(req) else ""
        raise Conflict(f"{req.ref} is {STATUS_WORDS[req.status].lower()}; only a cancelled or expired request "
                       f"can be reopened.{still}")
    deadline = to_utc(ctx, cmd.deadline) if cmd.deadline else req.deadline
    example = f"reopen {req.ref} deadline={(max(ctx.now, req.deadline) + timedelta(days=7)).astimezone(tz):%Y-%m-%d}"
    if deadline <= ctx.now:
        said = "The deadline you gave" if cmd.deadline else f"{req.ref}'s deadline"
        raise UsageError(f"{said}, {when(deadline, tz)}, has passed: reopen it with a new one.", example=example)
    if req.window_start and req.window_start >= deadline:
        raise UsageError(f"{req.ref}'s window starts {when(req.window_start, tz)}: the deadline must be after that.",
                         example=example)
    was, old = req.status, req.deadline
    req.status, req.status_reason, req.deadline = RequestStatus.OPEN, "", deadline
    refresh_status(req, ctx.now)
    # posted afresh: the old copies keep what they last said (cancelled, expired) and are no longer
    # updated; a copy whose post is under way right now is left to finish, and is the fresh one there
    ctx.session.exec(delete(PostedCard).where(col(PostedCard.request_id) == pk(req),
                                              ~col(PostedCard.message_ref).startswith(PENDING_POST)))
    audit(ctx, "request.reopened", request=req, units=req.units_left, was=was,
          deadline=f"{old.isoformat()} → {deadline.isoformat()}" if deadline != old else "")
    return Reply(
        text=f"Reopened {req.ref} · {req.title}: {plural(req.units_left, 'unit')} open until {when(deadline, tz)}, "
        f"offered to {tiers_text(req.tier, req.visible_tier)}. Its cards are posted afresh (the old ones "
        "keep what they said).",
        tone=Tone.SUCCESS,
    ).card(pk(req), CardChange.POST)


class WidenRequest(BaseModel):
    request: int
    tier: int | None = None


@command(
    "widen", summary="offer a request to the next tier (or tier N) now", usage="widen SR-7 [tier=N]",
    example="widen SR-7 tier=2", roles={Role.DISPATCHER}, who="dispatchers", args=[Arg("request", Kind.REQUEST)],
    opts={"tier": Opt(Kind.INT)},
)
def widen(cmd: WidenRequest, ctx: Context) -> Reply:
    s = session(ctx)
    req = get_request(ctx, cmd.request, lock=True)
    if req.status not in (RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED) or req.deadline <= ctx.now:
        state = "past its deadline" if req.status in (RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED) \
            else STATUS_WORDS[req.status].lower()
        raise Conflict(f"{req.ref} is {state}; only a request with units left to claim can be widened.")
    tier = cmd.tier if cmd.tier is not None else _next_tier(_tiers(s), req.visible_tier)
    if tier is None:
        raise Conflict(f"{req.ref} is offered up to tier {req.visible_tier} already, and no partner or partner "
                       "channel has a wider tier.", example=f"widen {req.ref} tier={req.visible_tier + 1}")
    if not req.visible_tier < tier <= MAX_TIER:
        raise UsageError(f"{req.ref} is offered up to tier {req.visible_tier} now: widen it to a tier from "
                         f"{req.visible_tier + 1} to {MAX_TIER}.", example=f"widen {req.ref} tier={req.visible_tier + 1}")
    reply = widen_to(s, req, tier, ctx.now, by=ctx.actor.person_id)
    reply.tone = Tone.SUCCESS
    reply.text = (f"Widened {req.ref} · {req.title}: now offered to {tiers_text(req.tier, tier)}, "
                  f"{plural(req.units_left, 'unit')} left. Its card goes to the partner channels up to tier {tier}.")
    return reply
