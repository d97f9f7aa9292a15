"""Claiming units, behind the gates of PRODUCT.md, and giving them back.

Gates, in order: a known person (the core) → a partner org that is vetted → the org's signature on
the current agreement, not expired → the person's acknowledgement of the current guidelines →
units available. A claim is one path, in the ordinary unit of work, in Core statements:

1. one read brings the request's state, the gates' facts and the speaker's live claim on it, holding
   the partner org's row `FOR SHARE` (PostgreSQL): a `suspend` waits for the claim to commit and then
   revokes it, and a claim after a suspension waits for it and reads the org suspended. Every refusal
   is decided from this read, in the gates' order, and changes nothing;
2. one conditional `UPDATE … RETURNING` takes the units only if the request is still open, offered to
   the speaker's tier, before its deadline and has them left, and row-locks it to the commit (SQLite
   has a single writer); the claim, its rates and the reply are made from the row it returns. If it
   matches nothing, the request is read again under its row lock and decided once more. A CHECK
   constraint refuses any oversubscription. The status follows the units by `status_for`, the rule
   of `refresh_status` (one more UPDATE only when it changes);
3. under that lock, the speaker's claim as read is topped up by an `UPDATE … RETURNING` only if it is
   still in the state the decision saw, or a new one is added by an `INSERT … RETURNING` only if they
   still have none, with the request's rates of that moment. If their claim changed (a person racing
   their own claims), it is read again under the lock and decided once more: one claim holds all
   their units. Then the audit entry.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, PositiveInt
from sqlalchemy import (
    Integer,
    Row,
    String,
    Text,
    and_,
    bindparam,
    exists,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection
from sqlmodel import col

from handlers.claim_gates import check_gates
from handlers.common import (
    AUDIT_INSERT,
    audit,
    audit_row,
    claim_waiting,
    get_request,
    guidelines_of,
    is_closed,
    live_claim,
    names_with_role,
    plural,
    reader_zone,
    refresh_status,
    session,
    status_for,
    when,
)
from handlers.contracts import current_guidelines
from handlers.errors import Conflict, GateClosed, NotFound
from handlers.grammar import Arg, Kind
from handlers.registry import command
from handlers.types import Action, ActionKind, Audience, Context, Message, Reply, Tone
from handlers.views import STATUS_WORDS, job_details, not_offered
from models.db import Retry
from models.tables import (
    LIVE_CLAIM,
    TERMINAL_REQUEST,
    AgreementVersion,
    Claim,
    ClaimStatus,
    GuidelineAck,
    GuidelineVersion,
    Org,
    OrgKind,
    OrgStatus,
    Role,
    Signature,
    SurgeRequest,
    pk,
    table_of,
)
from models.types import UTCDateTime

_req, _claim = table_of(SurgeRequest), table_of(Claim)
_NOW = bindparam("now", type_=UTCDateTime())
_N = bindparam("n", type_=Integer)
_REQUEST_ID = bindparam("request_id", type_=Integer)
_PERSON_ID = bindparam("person_id", type_=Integer)
_LIVE = or_(*(_claim.c.status == s for s in LIVE_CLAIM))  # not IN (…): an expanding IN is rendered anew each time
_MY_LIVE_CLAIM = and_(_claim.c.request_id == _REQUEST_ID, _claim.c.person_id == _PERSON_ID, _LIVE)

# When the UPDATE takes nothing, what the decision needs in one statement: the request's state; the
# speaker's org (its row taken FOR SHARE), the current agreement and whether the org signed it
# (unexpired), the current guidelines and whether the speaker acknowledged them (when one is closed,
# `closed_gate` words the refusal); and the speaker's live claim on the request (at most one).
_READ = (
    select(_req.c.id, _req.c.status, _req.c.units, _req.c.units_taken, _req.c.deadline, _req.c.visible_tier,
           col(Org.kind).label("org_kind"), col(Org.status).label("org_status"),
           col(AgreementVersion.id).label("agreement_id"), exists().where(
               col(Signature.org_id) == col(Org.id), col(Signature.agreement_id) == col(AgreementVersion.id),
               col(Signature.expires_at) > _NOW).label("signed"),
           col(GuidelineVersion.id).label("guidelines_id"), col(GuidelineVersion.text_hash).label("guidelines_hash"),
           exists().where(col(GuidelineAck.person_id) == _PERSON_ID,
                          col(GuidelineAck.guideline_id) == col(GuidelineVersion.id)).label("acked"),
           _claim.c.id.label("mine_id"), _claim.c.units.label("mine_units"), _claim.c.status.label("mine_status"))
    .select_from(_req)
    .join(Org, col(Org.id) == bindparam("org_id", type_=Integer))
    .outerjoin(AgreementVersion, col(AgreementVersion.is_current) == true())
    .outerjoin(GuidelineVersion, col(GuidelineVersion.is_current) == true())
    .outerjoin(_claim, and_(_claim.c.request_id == _req.c.id, _claim.c.person_id == _PERSON_ID, _LIVE))
    .where(_req.c.id == _REQUEST_ID)
    .limit(1)
)
_READ_SHARED = _READ.with_for_update(read=True, of=Org)  # the org's row FOR SHARE (PostgreSQL)
_READ_LOCKED = _READ.with_for_update(of=SurgeRequest)  # again, with the request's row locked

# The gates open for the speaker: their org a vetted partner (its row taken FOR SHARE), its signature on
# the current agreement unexpired, their acknowledgement of the current guidelines.
_GATES_OPEN = and_(
    select(col(Org.id)).where(col(Org.id) == bindparam("org_id", type_=Integer), col(Org.kind) == OrgKind.PARTNER,
                              col(Org.status) == OrgStatus.VETTED).with_for_update(read=True).exists(),
    exists().where(col(Signature.org_id) == bindparam("org_id", type_=Integer),
                   col(Signature.agreement_id) == col(AgreementVersion.id),
                   col(AgreementVersion.is_current) == true(), col(Signature.expires_at) > _NOW),
    exists().where(col(GuidelineAck.person_id) == _PERSON_ID, col(GuidelineAck.guideline_id) == col(GuidelineVersion.id),
                   col(GuidelineVersion.is_current) == true()),
)
_CURRENT_GUIDELINES = select(col(GuidelineVersion.id)).where(col(GuidelineVersion.is_current) == true()).limit(1)

# Take n units if the gates are open and the request can still give them. What comes back: the request
# as it now stands, the speaker's live claim on it (as of the statement's start) and the current guidelines
# (subqueries by the bound ids, not correlated to the updated row: SQLite 3.40 returns wrong rows for those).
_TAKE = (
    update(_req)
    .where(_req.c.id == _REQUEST_ID, *(_req.c.status != s for s in TERMINAL_REQUEST), _req.c.deadline > _NOW,
           _req.c.visible_tier >= bindparam("org_tier", type_=Integer), _req.c.units - _req.c.units_taken >= _N,
           _GATES_OPEN)
    .values(units_taken=_req.c.units_taken + _N, updated_at=_NOW)
    .returning(_req.c.id, _req.c.title, _req.c.scope, _req.c.customer, _req.c.site, _req.c.town, _req.c.contact,
               _req.c.deadline, _req.c.pay_cents, _req.c.bill_cents, _req.c.approval_required, _req.c.status,
               _req.c.units, _req.c.units_taken, _req.c.units_verified,
               select(_claim.c.id).where(_MY_LIVE_CLAIM).scalar_subquery().label("mine_id"),
               select(_claim.c.status).where(_MY_LIVE_CLAIM).scalar_subquery().label("mine_status"),
               _CURRENT_GUIDELINES.scalar_subquery().label("guidelines_id"),
               _CURRENT_GUIDELINES.with_only_columns(col(GuidelineVersion.text_hash)).scalar_subquery()
               .label("guidelines_hash"))
)
_SET_STATUS = update(_req).where(_req.c.id == _REQUEST_ID).values(status=bindparam("status", type_=String))

# The speaker's claim topped up, only if it is still in the state the decision saw.
_CLAIM_OUT = (_claim.c.id, _claim.c.person_id, _claim.c.org_id, _claim.c.units, _claim.c.status)
_TOP_UP = (
    update(_claim)
    .where(_claim.c.id == bindparam("claim_id", type_=Integer), _claim.c.status == bindparam("seen", type_=String),
           _claim.c.request_id == bindparam("on_request", type_=Integer),
           _claim.c.person_id == bindparam("of_person", type_=Integer))
    .values(units=_claim.c.units + _N)
    .returning(*_CLAIM_OUT)
)
# A new claim, only if the speaker still has no live claim on the request.
_ADD = (  # the other columns take their defaults
    insert(_claim)
    .from_select(["request_id", "person_id", "org_id", "units", "pay_cents", "bill_cents", "status", "notes",
                  "created_at", "approved_at"], select(
        _REQUEST_ID, _PERSON_ID, bindparam("org_id", type_=Integer), _N, bindparam("pay_cents", type_=Integer),
        bindparam("bill_cents", type_=Integer), bindparam("status", type_=String), literal("", Text), _NOW,
        bindparam("approved_at", type_=UTCDateTime()),
    ).where(~exists().where(_MY_LIVE_CLAIM)))
    .returning(*_CLAIM_OUT)
)
_MINE = select(_claim.c.id, _claim.c.status).where(_MY_LIVE_CLAIM)


class ClaimUnits(BaseModel):
    request: int
    units: PositiveInt | None = None  # default: all that are left


@command("claim", summary="claim units of a request (default: all left)", usage="claim SR-7 [units]",
         example="claim SR-7 12", roles={Role.TECH, Role.PARTNER_ADMIN}, who="techs, partner admins",
         args=[Arg("request", Kind.REQUEST), Arg("units", Kind.UNITS, required=False)])
def claim(cmd: ClaimUnits, ctx: Context) -> Reply:
    """The conditional UPDATE (else the read and every refusal), the claim and its audit entry (see the module)."""
    a = ctx.actor
    conn = session(ctx).connection()
    keys = {"request_id": cmd.request, "org_id": a.org_id, "person_id": a.person_id, "org_tier": a.tier, "now": ctx.now}
    req = conn.execute(_TAKE, {**keys, "n": cmd.units}).first() if cmd.units else None
    units = cmd.units
    if req is None or units is None:  # refused, changed since, or "all that is left": decided from a read
        units, req = take(ctx, conn, cmd, keys)
    mine = hold(ctx, conn, req, units)
    after = status_for(req.status, units=req.units, taken=req.units_taken, verified=req.units_verified)
    if after != req.status:
        conn.execute(_SET_STATUS, {"request_id": req.id, "status": after})
    conn.execute(AUDIT_INSERT, audit_row(ctx, "claim.taken", request_id=req.id, claim_id=mine.id, org_id=mine.org_id,
                                         units=units, detail={"total": mine.units, "status": mine.status}))
    guidelines = guidelines_of(session(ctx), req.guidelines_id, req.guidelines_hash)
    return taken_reply(ctx, req, mine, units, guidelines)


def take(ctx: Context, conn: Connection, cmd: ClaimUnits, keys: Mapping[str, Any]) -> tuple[int, Row[Any]]:
    """Read the request, the gates and the speaker's claim, and refuse from that read (in the gates' order,
    then closed, past its deadline, full, fewer units left than asked); else take the units with the
    conditional UPDATE. Returns how many and what the UPDATE returned. If it matches nothing, the request
    changed since the read: it is read again under its row lock and decided once more."""
    a = ctx.actor
    seen = conn.execute(_READ_SHARED, keys).first()
    if seen is None:
        raise NotFound(f"There is no SR-{cmd.request}. Type `list` to see the open requests.")
    if seen.visible_tier < a.tier:
        raise Conflict(not_offered(f"SR-{cmd.request}", seen.visible_tier, a))
    if (seen.org_kind != OrgKind.PARTNER or seen.org_status != OrgStatus.VETTED or seen.agreement_id is None
            or not seen.signed or seen.guidelines_id is None or not seen.acked):
        check_gates(ctx, cmd.request, cmd.units)  # says which gate is closed (returns if all are open now)
    for _ in range(2):
        ref, left = f"SR-{seen.id}", seen.units - seen.units_taken
        check_claimable(ctx, ref, seen.visible_tier, seen.status, seen.deadline)
        units = cmd.units or left
        check_units(ref, left, units, seen.mine_units)
        req = conn.execute(_TAKE, {**keys, "n": units}).first()
        if req is not None:
            return units, req
        seen = conn.execute(_READ_LOCKED, keys).one()
    raise Retry(f"claim SR-{seen.id}: the request or a gate changed under its row lock")


def hold(ctx: Context, conn: Connection, req: Row[Any], units: int) -> Row[Any]:
    """The speaker's claim with `units` more: theirs as the UPDATE found it, topped up, or a new one with
    the request's rates of this moment. If theirs changed meanwhile, it is read again (under the request's
    row lock, so it cannot change again) and decided once more; returns the claim as it now stands."""
    a = ctx.actor
    mine_id, status = req.mine_id, req.mine_status
    for _ in range(2):
        check_top_up(f"SR-{req.id}", status, req.approval_required)
        if mine_id is not None:
            mine = conn.execute(_TOP_UP, {"claim_id": mine_id, "seen": status, "n": units, "on_request": req.id,
                                          "of_person": a.person_id}).first()
        else:
            pending = req.approval_required
            mine = conn.execute(_ADD, {
                "request_id": req.id, "person_id": a.person_id, "org_id": a.org_id, "n": units, "now": ctx.now,
                "pay_cents": req.pay_cents, "bill_cents": req.bill_cents, "approved_at": None if pending else ctx.now,
                "status": ClaimStatus.PENDING if pending else ClaimStatus.ACTIVE,
            }).first()
        if mine is not None:
            return mine
        again = conn.execute(_MINE, {"request_id": req.id, "person_id": a.person_id}).first()
        mine_id, status = (again.id, again.status) if again else (None, None)
    raise Retry(f"claim SR-{req.id}: the claimant's claim changed under the request's row lock")


def check_top_up(ref: str, status: str | None, approval_required: bool) -> None:
    """A claim of one's own is topped up unless its work was reported done, or the request needs
    approval for each claim and it was already approved."""
    if status == ClaimStatus.DONE:
        raise Conflict(f"You reported your work on {ref} done; wait for it to be verified before claiming more.")
    if status is not None and approval_required and status != ClaimStatus.PENDING:
        raise Conflict(f"{ref} needs approval for each claim; ask a dispatcher to add units to yours.")


def taken_reply(ctx: Context, req: Row[Any], the_claim: Row[Any], units: int,
                guidelines: GuidelineVersion | None) -> Reply:
    ref, left = f"SR-{req.id}", f"{plural(req.units - req.units_taken, 'unit')} left"
    reply = Reply(text="", tone=Tone.SUCCESS).card(req.id)
    if the_claim.status == ClaimStatus.PENDING:
        reply.text = (f"You asked for {plural(units, 'unit')} of {ref} ({left}). "
                      "A dispatcher approves claims on this request; you'll get the job details then.")
        reply.tell(Message(
            audience=Audience.DISPATCH, request_id=req.id, tone=Tone.WARNING,
            text=f"{ctx.actor.name} ({ctx.actor.org_name}) asks for {plural(the_claim.units, 'unit')} of "
            f"{ref} · {req.title}.",
            actions=[
                Action(kind=ActionKind.APPROVE, label="Approve", command=f'approve {ref} "{ctx.actor.name}"', style="primary",
                       request_id=req.id, person_id=ctx.actor.person_id),
                Action(kind=ActionKind.REJECT, label="Reject", command=f'reject {ref} "{ctx.actor.name}"', style="danger",
                       request_id=req.id, person_id=ctx.actor.person_id),
            ],
        ))
    else:
        reply.text = (f"You have {plural(the_claim.units, 'unit')} of {ref} · {req.title} ({left}). "
                      "The job details and the guidelines are in your direct messages.")
        reply.tell(job_details(req, the_claim, guidelines, str(ctx.actor.tz)))
    return reply


def check_units(ref: str, left: int, units: int, held: int | None) -> None:
    """Refuse a full request (saying what the speaker holds of it) or more units than are left."""
    if left == 0:
        held_text = f" You hold {plural(held, 'unit')} of it." if held else ""
        raise Conflict(f"{ref} is fully claimed.{held_text}")
    if units > left:
        raise Conflict(f"Only {plural(left, 'unit')} of {ref} {'is' if left == 1 else 'are'} left.",
                       example=f"claim {ref} {left}")


def check_claimable(ctx: Context, ref: str, visible_tier: int, status: str, deadline: datetime) -> None:
    if visible_tier < ctx.actor.tier:
        raise Conflict(not_offered(ref, visible_tier, ctx.actor))
    if status in TERMINAL_REQUEST:
        raise Conflict(f"{ref} is {STATUS_WORDS[status].lower()}; it can't be claimed.")
    if deadline <= ctx.now:
        raise Conflict(f"{ref}'s deadline ({when(deadline, ctx.actor.tz)}) has passed.")


def check_not_suspended(ctx: Context, doing: str) -> None:
    """A suspended partner's people can't go on working: refuse, naming the managers who can reinstate it."""
    org = session(ctx).get(Org, ctx.actor.org_id)
    if org is not None and org.status == OrgStatus.SUSPENDED:
        managers = ", ".join(names_with_role(ctx, Role.MANAGER)) or "a manager"
        raise GateClosed(f"{org.name} is suspended, so its people can't {doing}. Talk to {managers}.")


def my_claim(ctx: Context, req: SurgeRequest, *statuses: ClaimStatus) -> Claim:
    claim_ = live_claim(ctx, req, ctx.actor.pid)
    if claim_ is None:
        raise NotFound(f"You have no claim on {req.ref}.", example=f"claim {req.ref}")
    if statuses and claim_.status not in statuses:
        raise Conflict(f"Your claim on {req.ref} is {claim_.status.replace('_', ' ')}; that can't be done now.")
    return claim_


class ReleaseUnits(BaseModel):
    request: int
    units: PositiveInt | None = None


@command("release", summary="give units back", usage="release SR-7 [units]", example="release SR-7 4",
         roles={Role.TECH, Role.PARTNER_ADMIN}, who="the claimant",
         args=[Arg("request", Kind.REQUEST), Arg("units", Kind.UNITS, required=False)])
def release(cmd: ReleaseUnits, ctx: Context) -> Reply:
    req = get_request(ctx, cmd.request, lock=True)
    c = my_claim(ctx, req, ClaimStatus.PENDING, ClaimStatus.ACTIVE, ClaimStatus.IN_PROGRESS)
    units = c.units if cmd.units is None else cmd.units
    if units > c.units:
        raise Conflict(f"You hold {plural(c.units, 'unit')} of {req.ref}.", example=f"release {req.ref} {c.units}")
    c.units -= units
    if c.units == 0:
        c.units, c.status, c.closed_at = units, ClaimStatus.RELEASED, ctx.now
    req.units_taken -= units
    refresh_status(req, ctx.now)
    audit(ctx, "claim.released", claim=c, units=units)
    kept = "" if c.status == ClaimStatus.RELEASED else f" You keep {plural(c.units, 'unit')}."
    return Reply(text=f"Released {plural(units, 'unit')} of {req.ref}; they're back on the card.{kept}",
                 tone=Tone.SUCCESS).card(pk(req)).tell(Message(
        audience=Audience.DISPATCH, request_id=req.id, tone=Tone.WARNING,
        text=f"{ctx.actor.name} released {plural(units, 'unit')} of {req.ref} · {req.title}; "
        f"{plural(req.units_left, 'unit')} now unclaimed.",
    ))


class StartWork(BaseModel):
    request: int


@command("start", summary="check in on site", usage="start SR-7", example="start SR-7",
         roles={Role.TECH, Role.PARTNER_ADMIN}, who="the claimant", args=[Arg("request", Kind.REQUEST)])
def start(cmd: StartWork, ctx: Context) -> Reply:
    check_not_suspended(ctx, "start work")
    req = get_request(ctx, cmd.request, lock=True)
    c = my_claim(ctx, req)
    if c.status == ClaimStatus.PENDING:
        raise Conflict(f"Your claim on {req.ref} is still waiting for a dispatcher's approval.")
    if c.status == ClaimStatus.IN_PROGRESS:
        return Reply(text=f"You checked in on {req.ref} at {when(c.started_at, ctx.actor.tz)} already.")
    if c.status != ClaimStatus.ACTIVE:
        raise Conflict(f"Your claim on {req.ref} is {c.status.replace('_', ' ')}; there's nothing to check in to.")
    c.status, c.started_at = ClaimStatus.IN_PROGRESS, ctx.now
    audit(ctx, "claim.started", claim=c, units=c.units)
    return Reply(text=f"Checked in on {req.ref}. Report with `done {req.ref}` when finished.",
                 tone=Tone.SUCCESS).card(pk(req))


class ApproveClaim(BaseModel):
    request: int
    person: str


@command("approve", summary="approve a pending claim", usage="approve SR-7 <person>",
         example='approve SR-7 "Tom Tech"', roles={Role.DISPATCHER}, who="dispatchers",
         args=[Arg("request", Kind.REQUEST), Arg("person", Kind.PERSON)])
def approve(cmd: ApproveClaim, ctx: Context) -> Reply:
    s = session(ctx)
    req, person, c = claim_waiting(ctx, cmd.request, cmd.person, (ClaimStatus.PENDING,),
                                   "{person} has no claim waiting for approval on {ref}.")
    if is_closed(req):
        raise Conflict(f"{req.ref} is {STATUS_WORDS[req.status].lower()}.")
    c.status, c.approved_at = ClaimStatus.ACTIVE, ctx.now
    audit(ctx, "claim.approved", claim=c, units=c.units)
    return Reply(text=f"Approved {person.name}'s {plural(c.units, 'unit')} of {req.ref}.", tone=Tone.SUCCESS) \
        .card(pk(req)).tell(job_details(req, c, current_guidelines(s), reader_zone(s, person, ctx.home_timezone)))

