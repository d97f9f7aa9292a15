"""Claiming units, behind the gates of PRODUCT.md, and giving them back.

Gates, in order: a known person (the core) → a partner org that is vetted → the org's signature on
the current agreement, not expired → the person's acknowledgement of the current guidelines →
units available. The units are then taken by a conditional UPDATE of the request, which re-checks on
the row what the decision rested on and row-locks it to the commit (PostgreSQL; SQLite has a single
writer), and a CHECK constraint refuses any oversubscription that slipped past both.

A claim is one read (the request, the gates and the speaker's claim, in one statement) and then its
writes; whatever that read cannot settle (a closed gate, a closed request, a claim waiting for
verification or approval) takes the original way, `claim_locked`, with its answers in their order.
"""
from __future__ import annotations

from types import SimpleNamespace

from pydantic import BaseModel, PositiveInt
from sqlalchemy import (
    Boolean, Integer, String, and_, bindparam, case, exists, insert, literal_column, select, true, update,
)

from handlers.common import (
    AUDIT_INSERT, audit, audit_row, cached_current_guidelines, claim_waiting, get_request, guidelines_of, is_closed,
    live_claim, names_with_role, plural, reader_zone, refresh_status, session, when,
)
from handlers.contracts import Gate, closed_gate, current_guidelines
from handlers.errors import Conflict, Forbidden, GateClosed, NotFound
from handlers.grammar import Arg, Kind
from handlers.registry import command
from handlers.types import Action, ActionKind, Audience, Context, Message, Reply, Tone
from handlers.views import STATUS_WORDS, guideline_facts, job_details, not_offered
from models.db import Retry
from models.tables import (
    LIVE_CLAIM, TERMINAL_REQUEST, AgreementVersion, Claim, ClaimStatus, GuidelineAck, GuidelineVersion, Org,
    OrgStatus, RequestStatus, Role, Signature, SurgeRequest,
)
from models.types import UTCDateTime


def _word(value: str):
    """A fixed status word, written into the SQL (no bound parameter to expand at each call)."""
    return literal_column(f"'{value}'", String)


def _statements():
    """The claim's fast path, as Core statements built once (SQLAlchemy caches their compiled form)."""
    r, c, o, sig, ack = (SurgeRequest.__table__, Claim.__table__, Org.__table__, Signature.__table__,
                         GuidelineAck.__table__)
    ag, gl, mine, other = AgreementVersion.__table__.alias("ag"), GuidelineVersion.__table__.alias("gl"), \
        c.alias("mine"), c.alias("other")
    live = [_word(x) for x in LIVE_CLAIM]
    org_id, person_id = bindparam("org_id", type_=Integer), bindparam("person_id", type_=Integer)
    request_id, now = bindparam("request_id", type_=Integer), bindparam("now", type_=UTCDateTime())
    signed = exists().where(sig.c.org_id == org_id, sig.c.agreement_id == ag.c.id, sig.c.expires_at > now)
    acked = exists().where(ack.c.person_id == person_id, ack.c.guideline_id == gl.c.id)
    snapshot = (
        select(r.c.status, r.c.deadline, r.c.units, r.c.units_taken, r.c.approval_required, r.c.visible_tier,
               o.c.status.label("org_status"), ag.c.id.label("ag_id"), gl.c.id.label("gl_id"),
               gl.c.text_hash.label("gl_hash"), signed.label("signed"), acked.label("acked"),
               mine.c.id.label("mine_id"), mine.c.status.label("mine_status"), mine.c.units.label("mine_units"))
        .select_from(r)
        .outerjoin(o, o.c.id == org_id)
        .outerjoin(ag, ag.c.is_current == true())
        .outerjoin(gl, gl.c.is_current == true())
        .outerjoin(mine, and_(mine.c.request_id == r.c.id, mine.c.person_id == person_id, mine.c.status.in_(live)))
        .where(r.c.id == request_id)
        .limit(1)
    )
    n = bindparam("n", type_=Integer)
    taken = r.c.units_taken + n
    take = (
        update(r)
        .where(r.c.id == request_id, r.c.status.not_in([_word(x) for x in TERMINAL_REQUEST]), r.c.deadline > now,
               taken <= r.c.units, r.c.approval_required == bindparam("approval", type_=Boolean),
               r.c.visible_tier >= bindparam("org_tier", type_=Integer))
        .values(units_taken=taken, updated_at=now, status=case(  # = refresh_status()
            (r.c.units_verified >= r.c.units, _word(RequestStatus.COMPLETED)),
            (taken >= r.c.units, _word(RequestStatus.FULLY_CLAIMED)),
            (taken > 0, _word(RequestStatus.PARTLY_CLAIMED)),
            else_=_word(RequestStatus.OPEN)))
        # what the reply and the job details show, as the locked row has them
        .returning(r.c.id, r.c.title, r.c.scope, r.c.units, r.c.units_taken, r.c.approval_required, r.c.deadline,
                   r.c.pay_cents, r.c.bill_cents, r.c.customer, r.c.site, r.c.contact, r.c.town)
    )
    take_all = take.where(r.c.units_taken == bindparam("taken", type_=Integer))
    new_claim = insert(c).from_select(
        ["request_id", "person_id", "org_id", "units", "units_done", "units_verified", "status", "rework", "notes",
         "created_at", "approved_at", "pay_cents", "bill_cents"],
        select(request_id, person_id, org_id, bindparam("units", type_=Integer), literal_column("0"),
               literal_column("0"), bindparam("status", type_=String), literal_column("0"), literal_column("''"),
               bindparam("created_at", type_=UTCDateTime()), bindparam("approved_at", type_=UTCDateTime()),
               bindparam("pay_cents", type_=Integer), bindparam("bill_cents", type_=Integer))
        .where(~exists().where(other.c.request_id == request_id, other.c.person_id == person_id,
                               other.c.status.in_(live))),
    ).returning(c.c.id, c.c.units, c.c.org_id)
    top_up = (
        update(c).where(c.c.id == bindparam("claim_id", type_=Integer), c.c.status == bindparam("seen", type_=String))
        .values(units=c.c.units + n).returning(c.c.id, c.c.units, c.c.org_id)
    )
    return snapshot, take, take_all, new_claim, top_up


_SNAPSHOT, _TAKE, _TAKE_ALL, _INSERT_CLAIM, _TOP_UP = _statements()


class ClaimUnits(BaseModel):
    request: int
    units: PositiveInt | None = None  # default: all that are left


@command("claim", summary="claim units of a request (default: all left)", usage="claim SR-7 [units]",
         example="claim SR-7 12", roles={Role.TECH, Role.PARTNER_ADMIN}, who="techs, partner admins",
         args=[Arg("request", Kind.REQUEST), Arg("units", Kind.UNITS, required=False)])
def claim(cmd: ClaimUnits, ctx: Context) -> Reply:
    """One read, then conditional writes; whatever the read cannot settle goes the locked way.

    The read (`_SNAPSHOT`, one statement) brings the request, the speaker's org status, whether the
    current agreement is signed and the current guidelines acknowledged, and the speaker's live claim
    on the request. A closed gate is answered by `check_gates`, in the gates' order. A request that
    is full or has fewer units left than asked is refused from the read: a refusal changes nothing,
    and the read is one consistent state of the request (on SQLite, the only writer's). Otherwise the
    units are taken by a conditional UPDATE that re-checks, on the row it locks, everything the
    decision rested on (open, before the deadline, enough units left, the same approval rule; for
    "all that is left", the same count); the claim is then inserted only if the speaker still has no
    live claim, or the claim read is topped up only if its status is unchanged; then the audit and
    outbox rows. The request's row lock (PostgreSQL) is held from that UPDATE to the commit, with no
    read and no decision inside. A closed or expired request, a claim reported done or one that needs
    approval, and an UPDATE that matched nothing go to `claim_locked`, the original checks under the
    row lock; a claim that changed under a concurrent unit of work makes the whole unit run again."""
    s = session(ctx)
    db = s.connection()  # Core statements on the unit of work's connection: no ORM around them
    a = ctx.actor
    row = db.execute(_SNAPSHOT, {"request_id": cmd.request, "org_id": a.org_id, "person_id": a.person_id,
                                 "now": ctx.now}).first()
    if row is None:
        raise NotFound(f"There is no SR-{cmd.request}. Type `list` to see the open requests.")
    if row.visible_tier < a.tier:
        raise Conflict(not_offered(f"SR-{cmd.request}", row.visible_tier, a))
    if (a.is_home or row.org_status != OrgStatus.VETTED or row.ag_id is None or not row.signed
            or row.gl_id is None or not row.acked):
        check_gates(ctx, cmd)  # says which gate is closed, in their order
        return claim_locked(cmd, ctx)  # a gate opened meanwhile (PostgreSQL): the original way
    if row.status in TERMINAL_REQUEST or row.deadline <= ctx.now:
        return claim_locked(cmd, ctx)  # refused there, in check_claimable's words
    left = row.units - row.units_taken
    units = left if cmd.units is None else cmd.units
    check_units(f"SR-{cmd.request}", left, units, row.mine_units)
    mine = row.mine_status
    if mine == ClaimStatus.DONE or (mine is not None and row.approval_required and mine != ClaimStatus.PENDING):
        return claim_locked(cmd, ctx)
    req = db.execute(_TAKE_ALL if cmd.units is None else _TAKE, {
        "request_id": cmd.request, "n": units, "now": ctx.now, "approval": row.approval_required,
        "org_tier": a.tier, "taken": row.units_taken}).first()
    if req is None:  # changed since the read: the locked way gives the answer of the moment
        return claim_locked(cmd, ctx)
    req = _Taken(req)
    if mine is None:
        status = ClaimStatus.PENDING if req.approval_required else ClaimStatus.ACTIVE
        got = db.execute(_INSERT_CLAIM, {
            "request_id": req.id, "person_id": a.person_id, "org_id": a.org_id, "units": units, "status": status,
            "created_at": ctx.now, "approved_at": None if req.approval_required else ctx.now,
            "pay_cents": req.pay_cents, "bill_cents": req.bill_cents}).first()
    else:
        status = ClaimStatus(mine)
        got = db.execute(_TOP_UP, {"claim_id": row.mine_id, "n": units, "seen": mine}).first()
    if got is None:  # the speaker's claim changed since the read (a concurrent claim or approval)
        raise Retry(f"claim SR-{req.id}: the claimant's claim changed")
    the_claim = SimpleNamespace(id=got.id, person_id=a.person_id, units=got.units, status=status)
    db.execute(AUDIT_INSERT, audit_row(ctx, "claim.taken", request_id=req.id, claim_id=got.id, org_id=got.org_id,
                                       units=units, detail={"total": got.units, "status": status}))
    return taken_reply(ctx, req, the_claim, units, guidelines_of(s, row.gl_id, row.gl_hash))


class _Taken:
    """The request row the conditional UPDATE returned, read as a `SurgeRequest` is (no ORM object)."""

    __slots__ = ("_row",)

    def __init__(self, row) -> None:
        self._row = row

    def __getattr__(self, name: str):
        return getattr(self._row, name)

    @property
    def ref(self) -> str:
        return f"SR-{self._row.id}"

    @property
    def units_left(self) -> int:
        return self._row.units - self._row.units_taken


def claim_locked(cmd: ClaimUnits, ctx: Context) -> Reply:
    """The claim under the request's row lock, read by the ORM: every refusal is decided here."""
    s = session(ctx)
    req = get_request(ctx, cmd.request, lock=True)
    check_claimable(ctx, req)
    units = req.units_left if cmd.units is None else cmd.units
    if req.units_left == 0 or units > req.units_left:
        mine = live_claim(ctx, req, ctx.actor.person_id) if req.units_left == 0 else None
        check_units(req.ref, req.units_left, units, mine.units if mine else None)
    existing = live_claim(ctx, req, ctx.actor.person_id)
    if existing and existing.status == ClaimStatus.DONE:
        raise Conflict(f"You reported your work on {req.ref} done; wait for it to be verified before claiming more.")
    if existing and req.approval_required and existing.status != ClaimStatus.PENDING:
        raise Conflict(f"{req.ref} needs approval for each claim; ask a dispatcher to add units to yours.")
    if existing:
        existing.units += units
        the_claim = existing
    else:
        the_claim = Claim(
            request_id=req.id, person_id=ctx.actor.person_id, org_id=ctx.actor.org_id, units=units,
            created_at=ctx.now, status=ClaimStatus.PENDING if req.approval_required else ClaimStatus.ACTIVE,
            approved_at=None if req.approval_required else ctx.now, pay_cents=req.pay_cents, bill_cents=req.bill_cents,
        )
        s.add(the_claim)
    req.units_taken += units
    refresh_status(req, ctx.now)
    s.flush()
    audit(ctx, "claim.taken", claim=the_claim, units=units, total=the_claim.units, status=the_claim.status)
    return taken_reply(ctx, req, the_claim, units, cached_current_guidelines(s))


def taken_reply(ctx: Context, req: SurgeRequest | _Taken, the_claim: Claim | SimpleNamespace, units: int,
                guidelines: GuidelineVersion | None) -> Reply:
    reply = Reply(text="", tone=Tone.SUCCESS).card(req.id)
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
    org = s.get(Org, ctx.actor.org_id)
    closed = closed_gate(s, org, ctx.actor.person_id, ctx.now)
    if closed is None:
        return org
    if closed.gate is Gate.HOME:
        raise Forbidden("Claims are for partner techs; home staff are scheduled directly.")
    if closed.gate in (Gate.SUSPENDED, Gate.NOT_VETTED):
        managers = ", ".join(names_with_role(ctx, Role.MANAGER)) or "a manager"
        state = "suspended" if closed.gate is Gate.SUSPENDED else "not vetted yet"
        raise GateClosed(f"{org.name} is {state}, so its people can't claim work. Talk to {managers}.")
    agreement = closed.agreement
    if closed.gate is Gate.NO_AGREEMENT:
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
    if closed.gate is Gate.NO_GUIDELINES:
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
    claim_ = live_claim(ctx, req, ctx.actor.person_id)
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
                 tone=Tone.SUCCESS).card(req.id).tell(Message(
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
                 tone=Tone.SUCCESS).card(req.id)


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
        .card(req.id).tell(job_details(req, c, current_guidelines(s), reader_zone(s, person, ctx.home_timezone)))

