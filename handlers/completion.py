"""Reporting work done, verifying it or sending it back; problems and leads from the field."""
from __future__ import annotations

from pydantic import BaseModel, PositiveInt
from sqlmodel import Session, col, select

from handlers.claims import check_not_suspended, my_claim
from handlers.common import (
    audit,
    claim_waiting,
    get_request,
    money,
    plural,
    refresh_status,
    session,
    when,
)
from handlers.errors import Conflict, NotFound
from handlers.followups import hand_back
from handlers.grammar import Arg, Kind, Opt
from handlers.registry import command
from handlers.types import Action, ActionKind, Audience, Context, Message, Reply, Tone
from models.tables import (
    Claim,
    ClaimStatus,
    CompletionReport,
    Person,
    Problem,
    RequestStatus,
    Role,
    SurgeRequest,
    pk,
)


def _return_to_pool(req: SurgeRequest, claim: Claim, keep: int) -> int:
    """Shrink a claim to `keep` units; the rest go back on the card. Returns how many went back."""
    back = claim.units - keep
    claim.units = keep
    req.units_taken -= back
    return back


class ReportDone(BaseModel):
    request: int
    units: PositiveInt | None = None
    notes: str = ""


@command("done", summary="report your work done", usage='done SR-7 [units] [notes="…"]',
         example='done SR-7 12 notes="all patched, 2 needed BIOS updates"', roles={Role.TECH, Role.PARTNER_ADMIN},
         who="the claimant", args=[Arg("request", Kind.REQUEST), Arg("units", Kind.UNITS, required=False)],
         opts={"notes": Opt(Kind.TEXT, max_len=2000)})
def done(cmd: ReportDone, ctx: Context) -> Reply:
    s = session(ctx)
    check_not_suspended(ctx, "report work")
    req = get_request(ctx, cmd.request, lock=True)
    c = my_claim(ctx, req, ClaimStatus.ACTIVE, ClaimStatus.IN_PROGRESS, ClaimStatus.DONE, ClaimStatus.PENDING)
    if c.status == ClaimStatus.PENDING:
        raise Conflict(f"Your claim on {req.ref} is still waiting for a dispatcher's approval.")
    if c.status == ClaimStatus.DONE:
        raise Conflict(f"You already reported {plural(c.units_done, 'unit')} of {req.ref} done; it waits for a dispatcher.")
    units = c.units if cmd.units is None else cmd.units
    if units > c.units:
        raise Conflict(f"You hold {plural(c.units, 'unit')} of {req.ref}.", example=f"done {req.ref} {c.units}")
    back = _return_to_pool(req, c, units)
    c.status, c.units_done, c.done_at = ClaimStatus.DONE, units, ctx.now
    c.started_at = c.started_at or ctx.now
    c.notes = cmd.notes
    s.add(CompletionReport(claim_id=pk(c), units=units, notes=cmd.notes, reported_at=ctx.now))
    refresh_status(req, ctx.now)
    audit(ctx, "claim.done", claim=c, units=units, returned=back, notes=cmd.notes)
    who = f'"{ctx.actor.name}"'
    returned = f" {plural(back, 'unit')} went back on the card." if back else ""
    return Reply(
        text=f"Reported {plural(units, 'unit')} of {req.ref} done; a dispatcher will verify.{returned}",
        tone=Tone.SUCCESS,
    ).card(pk(req)).tell(Message(
        audience=Audience.DISPATCH, request_id=req.id, private=True,
        text=f"{ctx.actor.name} ({ctx.actor.org_name}) reports {plural(units, 'unit')} of {req.ref} · "
        f"{req.title} done at {req.customer or req.town}." + (f"\nNotes: {cmd.notes}" if cmd.notes else "")
        + returned,
        actions=[
            Action(kind=ActionKind.VERIFY, label="Verify", command=f"verify {req.ref} {who}", style="primary",
                   request_id=req.id, person_id=ctx.actor.person_id),
            Action(kind=ActionKind.REJECT, label="Send back", command=f"reject {req.ref} {who}", style="danger",
                   request_id=req.id, person_id=ctx.actor.person_id),
        ],
    ))


class VerifyWork(BaseModel):
    request: int
    person: str
    units: PositiveInt | None = None


@command("verify", summary="accept reported work", usage="verify SR-7 <person> [units]",
         example='verify SR-7 "Tom Tech" 12', roles={Role.DISPATCHER}, who="dispatchers",
         args=[Arg("request", Kind.REQUEST), Arg("person", Kind.PERSON), Arg("units", Kind.UNITS, required=False)])
def verify(cmd: VerifyWork, ctx: Context) -> Reply:
    s = session(ctx)
    req, person, c = claim_waiting(ctx, cmd.request, cmd.person, (ClaimStatus.DONE,),
                                   "{person} has no work reported done on {ref} to verify.")
    units = c.units_done if cmd.units is None else cmd.units
    if units > c.units_done:
        raise Conflict(f"{person.name} reported {plural(c.units_done, 'unit')} done.",
                       example=f'verify {req.ref} "{person.name}" {c.units_done}')
    back = _return_to_pool(req, c, units)
    c.status, c.units_verified, c.verified_at, c.closed_at = ClaimStatus.VERIFIED, units, ctx.now, ctx.now
    req.units_verified += units
    _close_report(s, c, "verified")
    refresh_status(req, ctx.now)
    audit(ctx, "claim.verified", claim=c, units=units, returned=back)
    reply = Reply(text=f"Verified {plural(units, 'unit')} of {req.ref} by {person.name}.", tone=Tone.SUCCESS)
    if back:
        reply.text += f" {plural(back, 'unit')} went back on the card."
    reply.tell(Message(
        audience=Audience.DM, person_id=person.id, request_id=req.id, tone=Tone.SUCCESS,
        text=f"{ctx.actor.name} verified {plural(units, 'unit')} of your work on {req.ref} · {req.title} "
        f"({money(units * c.pay_cents)} at {money(c.pay_cents)} per unit). Thank you!",
    ))
    if req.status == RequestStatus.COMPLETED:
        audit(ctx, "request.completed", request=req, units=req.units)
        reply.text += f" {req.ref} is now complete."
        reply.tell(Message(audience=Audience.DISPATCH, request_id=req.id, tone=Tone.SUCCESS,
                           text=f"{req.ref} · {req.title} is complete: all {plural(req.units, 'unit')} verified."))
    return reply.card(pk(req))


class RejectClaim(BaseModel):
    request: int
    person: str
    why: str


@command("reject", summary="reject a pending claim, or send reported work back",
         usage='reject SR-7 <person> "why"', example='reject SR-7 "Tom Tech" "3 machines still show the old time zone"',
         roles={Role.DISPATCHER}, who="dispatchers",
         args=[Arg("request", Kind.REQUEST), Arg("person", Kind.PERSON), Arg("why", Kind.TEXT, rest=True, max_len=1000)])
def reject(cmd: RejectClaim, ctx: Context) -> Reply:
    s = session(ctx)
    req, person, c = claim_waiting(ctx, cmd.request, cmd.person, (ClaimStatus.PENDING, ClaimStatus.DONE),
                                   "{person} has nothing on {ref} waiting for approval or verification.")
    if c.status == ClaimStatus.PENDING:
        c.status, c.closed_at = ClaimStatus.REJECTED, ctx.now
        req.units_taken -= c.units
        refresh_status(req, ctx.now)
        audit(ctx, "claim.rejected", claim=c, units=c.units, why=cmd.why)
        text = f"Your request for {plural(c.units, 'unit')} of {req.ref} · {req.title} was not approved: {cmd.why}"
        answer = f"Rejected {person.name}'s claim on {req.ref}; the units are back on the card."
    else:
        c.status, c.rework = ClaimStatus.IN_PROGRESS, c.rework + 1
        _close_report(s, c, "sent_back", cmd.why)
        audit(ctx, "claim.sent_back", claim=c, units=c.units_done, why=cmd.why)
        text = (f"{ctx.actor.name} sent your work on {req.ref} · {req.title} back: {cmd.why}\n"
                f"Fix it and report again with `done {req.ref}`.")
        answer = f"Sent {person.name}'s work on {req.ref} back."
    return Reply(text=answer, tone=Tone.SUCCESS).card(pk(req)).tell(
        Message(audience=Audience.DM, person_id=person.id, request_id=req.id, text=text, tone=Tone.WARNING))


def _close_report(s: Session, claim: Claim, outcome: str, reason: str = "") -> None:
    report = s.exec(
        select(CompletionReport).where(CompletionReport.claim_id == claim.id, CompletionReport.outcome == "waiting")
        .order_by(col(CompletionReport.id).desc())
    ).first()
    if report:
        report.outcome, report.outcome_reason = outcome, reason


def _claimant(ctx: Context, req: SurgeRequest) -> Claim:
    c = session(ctx).exec(
        select(Claim).where(Claim.request_id == req.id, Claim.person_id == ctx.actor.person_id,
                            col(Claim.status).in_([ClaimStatus.ACTIVE, ClaimStatus.IN_PROGRESS, ClaimStatus.DONE,
                                                   ClaimStatus.VERIFIED]))
    ).first()
    if c is None:
        raise NotFound(f"Only someone working on {req.ref} can report on it, and you have no claim there.")
    return c


class ReportProblem(BaseModel):
    request: int
    text: str


@command("problem", summary="escalate a significant problem to dispatch at once",
         usage='problem SR-7 "what happened"', example='problem SR-7 "server room flooded, stopping work"',
         roles={Role.TECH, Role.PARTNER_ADMIN}, who="the claimant",
         args=[Arg("request", Kind.REQUEST), Arg("text", Kind.TEXT, rest=True, max_len=2000)])
def problem(cmd: ReportProblem, ctx: Context) -> Reply:
    s = session(ctx)
    req = get_request(ctx, cmd.request)
    c = _claimant(ctx, req)
    p = Problem(request_id=pk(req), person_id=c.person_id, org_id=c.org_id, text=cmd.text, at=ctx.now)
    s.add(p)
    s.flush()
    audit(ctx, "problem.reported", request=req, org_id=c.org_id, text=cmd.text, problem=p.ref)
    alert = (f"⚠️ Problem {p.ref} on {req.ref} · {req.title} at {req.customer or req.town}, "
             f"reported by {ctx.actor.name} ({ctx.actor.org_name}): {cmd.text}")
    reply = Reply(text=f"Dispatch has been told about the problem on {req.ref} ({p.ref}). Stay safe; "
                  "they'll contact you.", tone=Tone.SUCCESS)
    reply.tell(Message(audience=Audience.DISPATCH, request_id=req.id, private=True, tone=Tone.ERROR, text=alert))
    creator = s.get(Person, req.created_by_id)
    if creator:
        reply.tell(Message(audience=Audience.DM, person_id=creator.id, request_id=req.id, private=True,
                           tone=Tone.ERROR, text=alert))
    return reply


class HandBackLead(BaseModel):
    request: int
    text: str


@command("lead", summary="hand back the customer's request for more work",
         usage='lead SR-7 "what the customer asked for"', example='lead SR-7 "wants a quote for 5 new laptops"',
         roles={Role.TECH, Role.PARTNER_ADMIN}, who="the claimant",
         args=[Arg("request", Kind.REQUEST), Arg("text", Kind.TEXT, rest=True, max_len=2000)])
def lead(cmd: HandBackLead, ctx: Context) -> Reply:
    req = get_request(ctx, cmd.request)
    c = _claimant(ctx, req)
    found, new = hand_back(ctx, req, c, cmd.text)
    if not new:
        return Reply(text=f"Already handed back as {found.ref} on {when(found.at, ctx.actor.tz)}; "
                     f"it is {found.state}.")
    audit(ctx, "lead.handed_back", request=req, org_id=c.org_id, text=cmd.text, lead=found.ref)
    return Reply(
        text=f"Thank you: the lead ({found.ref}) is with the dispatchers, and it counts in "
        f"{ctx.actor.org_name}'s favour.",
        tone=Tone.SUCCESS,
    ).tell(Message(
        audience=Audience.DISPATCH, request_id=req.id, private=True, tone=Tone.SUCCESS,
        text=f"💡 Lead {found.ref} from {req.customer or req.town} ({req.ref}), handed back by {ctx.actor.name} "
        f"({ctx.actor.org_name}): {cmd.text}",
    ))
