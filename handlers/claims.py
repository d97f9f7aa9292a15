"""Claiming units, behind the gates of PRODUCT.md, and giving them back.

Gates, in order: a known person (the core) → a partner org that is vetted → the org's signature on
the current agreement, not expired → the person's acknowledgement of the current guidelines →
units available. A claim is one path, in the ordinary unit of work:

1. one read brings the request (the ORM object) and the gates' facts, and takes the partner org's
   row `FOR SHARE` (PostgreSQL): a `suspend` (an UPDATE of that row) waits for the claim to commit
   and then finds and revokes it, and a claim after a suspension waits for it and reads the org
   suspended. Every refusal is decided from this read, in the gates' order, and changes nothing;
2. one conditional `UPDATE … RETURNING` of the request takes the units only if the request is still
   open, offered to the speaker's tier, before its deadline and has them left, and row-locks it to
   the commit (PostgreSQL; SQLite has a single writer). If it matches nothing, the request changed
   since the read and the unit of work runs again (its read then gives the answer of the moment).
   A CHECK constraint refuses any oversubscription that slipped past both;
3. under that lock, the speaker's live claim (read after the lock, so a person racing their own
   claims always finds the claim the other one committed) is topped up, or a new one is added,
   keeping the request's pay and bill rates of that moment; the request's status follows its units
   (`refresh_status`); then the audit entry.
"""
from __future__ import annotations

from pydantic import BaseModel, PositiveInt
from sqlalchemy import Integer, bindparam, exists, or_, select, true, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

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
    when,
)
from handlers.contracts import Gate, closed_gate, current_guidelines
from handlers.errors import Conflict, Forbidden, GateClosed, NotFound
from handlers.grammar import Arg, Kind
from handlers.registry import command
from handlers.types import Action, ActionKind, Audience, Context, Message, Reply, Tone
from handlers.views import STATUS_WORDS, guideline_facts, job_details, not_offered
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

_NOW = bindparam("now", type_=UTCDateTime())
_N = bindparam("n", type_=Integer)

# The request (an ORM object) and the gates' facts in one statement: the speaker's org (its row taken
# FOR SHARE), the current agreement and whether the org signed it (unexpired), the current guidelines
# and whether the speaker acknowledged them. When one of them is closed, `closed_gate` words the refusal.
_READ = (
    select(SurgeRequest, col(Org.kind), col(Org.status), col(AgreementVersion.id), exists().where(
        col(Signature.org_id) == col(Org.id), col(Signature.agreement_id) == col(AgreementVersion.id),
        col(Signature.expires_at) > _NOW,
    ), col(GuidelineVersion.id), col(GuidelineVersion.text_hash), exists().where(
        col(GuidelineAck.person_id) == bindparam("person_id", type_=Integer),
        col(GuidelineAck.guideline_id) == col(GuidelineVersion.id),
    ))
    .select_from(SurgeRequest)
    .join(Org, col(Org.id) == bindparam("org_id", type_=Integer))
    .outerjoin(AgreementVersion, col(AgreementVersion.is_current) == true())
    .outerjoin(GuidelineVersion, col(GuidelineVersion.is_current) == true())
    .where(col(SurgeRequest.id) == bindparam("request_id", type_=Integer))
    .limit(1)
    .with_for_update(read=True, of=Org)
)

# Take n units if the request can still give them (Core, on the mapped table): the new count comes back.
_TAKE = (
    update(table_of(SurgeRequest))
    .where(col(SurgeRequest.id) == bindparam("request_id", type_=Integer),
           *(col(SurgeRequest.status) != s for s in TERMINAL_REQUEST), col(SurgeRequest.deadline) > _NOW,
           col(SurgeRequest.visible_tier) >= bindparam("org_tier", type_=Integer),
           col(SurgeRequest.units) - col(SurgeRequest.units_taken) >= _N)
    .values(units_taken=col(SurgeRequest.units_taken) + _N, updated_at=_NOW)
    .returning(col(SurgeRequest.units_taken))
)

# The speaker's live claim on the request (at most one), read after the UPDATE has locked the request.
_MINE = (
    select(Claim)
    .where(col(Claim.request_id) == bindparam("request_id", type_=Integer),
           col(Claim.person_id) == bindparam("person_id", type_=Integer),
           or_(*(col(Claim.status) == s for s in LIVE_CLAIM)))
)


class ClaimUnits(BaseModel):
    request: int
    units: PositiveInt | None = None  # default: all that are left


@command("claim", summary="claim units of a request (default: all left)", usage="claim SR-7 [units]",
         example="claim SR-7 12", roles={Role.TECH, Role.PARTNER_ADMIN}, who="techs, partner admins",
         args=[Arg("request", Kind.REQUEST), Arg("units", Kind.UNITS, required=False)])
def claim(cmd: ClaimUnits, ctx: Context) -> Reply:
    """The read and every refusal, the conditional UPDATE, then the claim and its audit entry (see the module)."""
    s = session(ctx)
    a = ctx.actor
    row = s.execute(_READ, {"request_id": cmd.request, "org_id": a.org_id, "person_id": a.person_id,
                            "now": ctx.now}).first()
    if row is None:
        raise NotFound(f"There is no SR-{cmd.request}. Type `list` to see the open requests.")
    req, kind, status, agreement_id, signed, guidelines_id, guidelines_hash, acked = row
    if req.visible_tier < a.tier:
        raise Conflict(not_offered(req.ref, req.visible_tier, a))
    if (kind != OrgKind.PARTNER or status != OrgStatus.VETTED or agreement_id is None or not signed
            or guidelines_id is None or not acked):
        check_gates(ctx, cmd)  # says which gate is closed, in their order (returns if all are open now)
    units = take(ctx, req, cmd.units)
    mine = s.execute(_MINE, {"request_id": req.id, "person_id": a.person_id}).scalar()  # under the row lock
    if mine and mine.status == ClaimStatus.DONE:
        raise Conflict(f"You reported your work on {req.ref} done; wait for it to be verified before claiming more.")
    if mine and req.approval_required and mine.status != ClaimStatus.PENDING:
        raise Conflict(f"{req.ref} needs approval for each claim; ask a dispatcher to add units to yours.")
    if mine:
        mine.units += units
    else:
        mine = Claim(
            request_id=pk(req), person_id=a.pid, org_id=a.oid, units=units, created_at=ctx.now,
            status=ClaimStatus.PENDING if req.approval_required else ClaimStatus.ACTIVE,
            approved_at=None if req.approval_required else ctx.now, pay_cents=req.pay_cents, bill_cents=req.bill_cents,
        )
        s.add(mine)
    refresh_status(req, ctx.now)
    s.flush()
    s.connection().execute(AUDIT_INSERT, audit_row(ctx, "claim.taken", request_id=req.id, claim_id=mine.id,
                                                   org_id=mine.org_id, units=units,
                                                   detail={"total": mine.units, "status": mine.status}))
    return taken_reply(ctx, req, mine, units, guidelines_of(s, guidelines_id, guidelines_hash))


def take(ctx: Context, req: SurgeRequest, wanted: int | None) -> int:
    """Refuse from the request as read (closed, past its deadline, full, fewer units left than asked),
    else take the units with the conditional UPDATE; returns how many. If the UPDATE matches nothing,
    the request changed since the read: it is read again under its row lock and decided once more
    (on that locked row the UPDATE cannot miss)."""
    s = session(ctx)
    for _ in range(2):
        check_claimable(ctx, req)
        units = wanted or req.units_left
        if req.units_left == 0 or units > req.units_left:
            held = s.execute(_MINE, {"request_id": req.id, "person_id": ctx.actor.person_id}).scalar()
            check_units(req.ref, req.units_left, units, held.units if held else None)
        taken = s.connection().execute(_TAKE, {"request_id": req.id, "org_tier": ctx.actor.tier, "n": units,
                                               "now": ctx.now}).scalar()  # Core, on the unit of work's connection
        if taken is not None:
            set_committed_value(req, "units_taken", taken)  # the ORM object as the locked row now stands
            set_committed_value(req, "updated_at", ctx.now)
            return units
        req = get_request(ctx, pk(req), lock=True)
    raise Retry(f"claim {req.ref}: the request changed under its row lock")


def taken_reply(ctx: Context, req: SurgeRequest, the_claim: Claim, units: int,
                guidelines: GuidelineVersion | None) -> Reply:
    reply = Reply(text="", tone=Tone.SUCCESS).card(pk(req))
    left = f"{plural(req.units_left, 'unit')} left"
    if the_claim.status == ClaimStatus.PENDING:
        reply.text = (f"You asked for {plural(units, 'unit')} of {req.ref} ({left}). "
                      "A dispatcher approves claims on this request; you'll get the job details then.")
        reply.tell(Message(
            audience=Audience.DISPATCH, request_id=req.id, tone=Tone.WARNING,
            text=f"{ctx.actor.name} ({ctx.actor.org_name}) asks for {plural(the_claim.units, 'unit')} of "
            f"{req.ref} · {req.title}.",
            actions=[
                Action(kind=ActionKind.APPROVE, label="Approve", command=f'approve {req.ref} "{ctx.actor.name}"', style="primary",
                       request_id=req.id, person_id=ctx.actor.person_id),
                Action(kind=ActionKind.REJECT, label="Reject", command=f'reject {req.ref} "{ctx.actor.name}"', style="danger",
                       request_id=req.id, person_id=ctx.actor.person_id),
            ],
        ))
    else:
        reply.text = (f"You have {plural(the_claim.units, 'unit')} of {req.ref} · {req.title} ({left}). "
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


def check_gates(ctx: Context, cmd: ClaimUnits) -> Org:
    """Vetting, agreement, guidelines (`closed_gate` decides): each refusal says what to do next and who."""
    s = session(ctx)
    org = s.get_one(Org, ctx.actor.oid)
    closed = closed_gate(s, org, ctx.actor.pid, ctx.now)
    if closed is None:
        return org
    if closed.gate is Gate.HOME:
        raise Forbidden("Claims are for partner techs; home staff are scheduled directly.")
    if closed.gate in (Gate.SUSPENDED, Gate.NOT_VETTED):
        managers = ", ".join(names_with_role(ctx, Role.MANAGER)) or "a manager"
        state = "suspended" if closed.gate is Gate.SUSPENDED else "not vetted yet"
        raise GateClosed(f"{org.name} is {state}, so its people can't claim work. Talk to {managers}.")
    agreement = closed.agreement
    if closed.gate is Gate.NO_AGREEMENT or agreement is None:
        admins = ", ".join(names_with_role(ctx, Role.ADMIN)) or "whoever runs Surge"
        raise GateClosed(f"No non-solicitation agreement is set up yet, so nobody can claim. Ask {admins}.")
    units = f" {cmd.units}" if cmd.units else ""
    if closed.gate is Gate.UNSIGNED:
        if ctx.actor.has(Role.PARTNER_ADMIN):
            raise GateClosed(
                f"{org.name} hasn't signed the current non-solicitation agreement ({agreement.title}, version "
                f"{agreement.version}). As a partner admin you can sign it now; your claim goes on after.",
                actions=[Action(kind=ActionKind.SIGN, label="Read and sign", command="agreement",
                                then=f"claim SR-{cmd.request}{units}", style="primary")],
            )
        signers = ", ".join(names_with_role(ctx, Role.PARTNER_ADMIN, org_id=org.id)) or "your company's signatory"
        raise GateClosed(
            f"{org.name} hasn't signed the current non-solicitation agreement (version {agreement.version}), "
            f"so you can't claim yet. Ask {signers} to sign it: they type `agreement` to me."
        )
    guidelines = closed.guidelines
    if closed.gate is Gate.NO_GUIDELINES or guidelines is None:
        admins = ", ".join(names_with_role(ctx, Role.ADMIN)) or "whoever runs Surge"
        raise GateClosed(f"The field-conduct guidelines are not set up yet, so nobody can claim. Ask {admins}.")
    raise GateClosed(  # Gate.NOT_ACKED
        f"Before your first claim, read the field-conduct guidelines (version {guidelines.version}) "
        "and acknowledge them; your claim goes on after.",
        fields=guideline_facts(guidelines),
        actions=[Action(kind=ActionKind.ACK_GUIDELINES, label="I acknowledge", command="guidelines ack",
                        then=f"claim SR-{cmd.request}{units}", style="primary")],
    )


def check_claimable(ctx: Context, req: SurgeRequest) -> None:
    if req.visible_tier < ctx.actor.tier:
        raise Conflict(not_offered(req.ref, req.visible_tier, ctx.actor))
    if is_closed(req):
        raise Conflict(f"{req.ref} is {STATUS_WORDS[req.status].lower()}; it can't be claimed.")
    if req.deadline <= ctx.now:
        raise Conflict(f"{req.ref}'s deadline ({when(req.deadline, ctx.actor.tz)}) has passed.")


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

