"""Keeping the work in hand after a claim: a dispatcher takes a claim back (`revoke`) or moves its
units to someone else (`reassign`); a manager's `suspend` bites at once and `reinstate` lifts it.

Every change is made under the request's row lock (PostgreSQL; SQLite has a single writer), the
lock every claim, release, check-in and report takes too, so a revoke or a reassign racing the
claimant's own move is decided on the claim as it stands when the lock is granted: units are never
oversubscribed and no update is lost. A revoked claim keeps its units and status `revoked`, so it
counts in the partner's record; the units go back on the card.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import BaseModel, PositiveInt
from sqlmodel import col, select

from handlers.common import (
    audit,
    claim_waiting,
    find_partner,
    find_person,
    get_request,
    is_closed,
    live_claim,
    names_with_role,
    plural,
    refresh_status,
    session,
)
from handlers.completion import _close_report
from handlers.contracts import Gate, closed_gate, current_guidelines
from handlers.errors import Conflict, GateClosed
from handlers.grammar import Arg, Kind
from handlers.registry import command
from handlers.types import Action, ActionKind, Audience, Context, Message, Reply, Tone
from handlers.views import CLAIM_WORDS, STATUS_WORDS, job_details
from models.tables import LIVE_CLAIM, Claim, ClaimStatus, Org, OrgStatus, Person, Role, SurgeRequest, pk


def people_count(n: int) -> str:
    return f"{n:,} {'person' if n == 1 else 'people'}"


MOVABLE = (ClaimStatus.PENDING, ClaimStatus.ACTIVE, ClaimStatus.IN_PROGRESS)  # reported work is verified or rejected
NOT_STARTED = (ClaimStatus.PENDING, ClaimStatus.ACTIVE)


def take_back(ctx: Context, req: SurgeRequest, c: Claim, why: str) -> int:
    """Revoke a live claim (the request row-locked by the caller): its units go back on the card."""
    was, units = c.status, c.units
    c.status, c.closed_at = ClaimStatus.REVOKED, ctx.now
    req.units_taken -= units
    if was == ClaimStatus.DONE:
        _close_report(session(ctx), c, "revoked", why)
    refresh_status(req, ctx.now)
    audit(ctx, "claim.revoked", claim=c, units=units, was=was, why=why)
    return units


def revoked_notice(ctx: Context, req: SurgeRequest, c: Claim, why: str) -> Message:
    return Message(
        audience=Audience.DM, person_id=c.person_id, request_id=req.id, tone=Tone.WARNING,
        text=f"{ctx.actor.name} took back your claim on {req.ref} · {req.title} ({plural(c.units, 'unit')}): {why}\n"
        "Please stop work on it; the units are offered to others. Questions go to the dispatchers.",
    )


class RevokeClaim(BaseModel):
    request: int
    person: str
    why: str


@command("revoke", summary="take back a claim that is not yet verified; its units go back on the card",
         usage='revoke SR-7 <person> "why"', example='revoke SR-7 "Tom Tech" "the customer asked for our own staff"',
         roles={Role.DISPATCHER}, who="dispatchers",
         args=[Arg("request", Kind.REQUEST), Arg("person", Kind.PERSON),
               Arg("why", Kind.TEXT, rest=True, max_len=1000)])
def revoke(cmd: RevokeClaim, ctx: Context) -> Reply:
    req, person, c = claim_waiting(
        ctx, cmd.request, cmd.person, LIVE_CLAIM,
        "{person} has no claim on {ref} to take back: only a claim not yet verified can be revoked.")
    was = CLAIM_WORDS[c.status]
    units = take_back(ctx, req, c, cmd.why)
    return Reply(
        text=f"Revoked {person.name}'s claim on {req.ref} ({plural(units, 'unit')} {was}); the units are back on "
        f"the card ({plural(req.units_left, 'unit')} unclaimed). {person.name} has been told why.",
        tone=Tone.SUCCESS,
    ).card(pk(req)).tell(revoked_notice(ctx, req, c, cmd.why))


class ReassignUnits(BaseModel):
    request: int
    holder: str
    to: str
    units: PositiveInt | None = None  # default: all of the holder's claim


@command("reassign", summary="move units of a claim to another person; every claim gate applies to them",
         usage="reassign SR-7 <from> <to> [units]", example='reassign SR-7 "Tom Tech" "Frank Fabrikam" 6',
         roles={Role.DISPATCHER}, who="dispatchers",
         args=[Arg("request", Kind.REQUEST), Arg("holder", Kind.PERSON), Arg("to", Kind.PERSON),
               Arg("units", Kind.UNITS, required=False)])
def reassign(cmd: ReassignUnits, ctx: Context) -> Reply:
    s = session(ctx)
    req = get_request(ctx, cmd.request, lock=True)
    holder, to = find_person(ctx, cmd.holder), find_person(ctx, cmd.to)
    c = live_claim(ctx, req, pk(holder))
    if c is None or c.status not in MOVABLE:
        state = f"'s work on {req.ref} is reported done: verify or reject it" if c else f" has no claim on {req.ref}"
        raise Conflict(f"{holder.name}{state}; only a claim not reported done can move.")
    if to.id == holder.id:
        raise Conflict(f"{holder.name} holds that claim already; name who should take it.",
                       example=f'reassign {req.ref} "{holder.name}" "Frank Fabrikam"')
    units = c.units if cmd.units is None else cmd.units
    if units > c.units:
        raise Conflict(f"{holder.name} holds {plural(c.units, 'unit')} of {req.ref}.",
                       example=f'reassign {req.ref} "{holder.name}" "{to.name}" {c.units}')
    check_receiver(ctx, req, to)
    target = live_claim(ctx, req, pk(to))
    if target is not None and target.status not in (ClaimStatus.ACTIVE, ClaimStatus.IN_PROGRESS):
        step = "approve or reject" if target.status == ClaimStatus.PENDING else "verify or reject"
        raise Conflict(f"{to.name}'s own claim on {req.ref} is {CLAIM_WORDS[target.status]}; {step} it first.")
    c.units -= units
    if c.units == 0:
        c.units, c.status, c.closed_at = units, ClaimStatus.REASSIGNED, ctx.now
    if target is None:
        target = Claim(request_id=pk(req), person_id=pk(to), org_id=to.org_id, units=units, status=ClaimStatus.ACTIVE,
                       created_at=ctx.now, approved_at=ctx.now, pay_cents=c.pay_cents, bill_cents=c.bill_cents)
        s.add(target)
    else:
        target.units += units
    s.flush()
    audit(ctx, "claim.reassigned", claim=c, units=units, to=to.name)
    moved_from: dict[str, Any] = {"from": holder.name}  # `from` is a keyword: the detail's name for the giver
    audit(ctx, "claim.received", claim=target, units=units, total=target.units, **moved_from)
    return _moved_reply(ctx, req, holder, to, c, target, units)


def _moved_reply(ctx: Context, req: SurgeRequest, holder: Person, to: Person, c: Claim, target: Claim,
                 units: int) -> Reply:
    kept = "" if c.status == ClaimStatus.REASSIGNED else f" You keep {plural(c.units, 'unit')}."
    details = job_details(req, target, current_guidelines(session(ctx)), to.timezone or ctx.home_timezone)
    details.text = (f"{ctx.actor.name} assigned you {plural(units, 'unit')} of {req.ref} · {req.title} "
                    f"(you now hold {plural(target.units, 'unit')}).\n\n" + details.text)
    return Reply(
        text=f"Moved {plural(units, 'unit')} of {req.ref} from {holder.name} to {to.name}. Both have been told; "
        f"{to.name} has the job details.", tone=Tone.SUCCESS,
    ).card(pk(req)).tell(details, Message(
        audience=Audience.DM, person_id=holder.id, request_id=req.id, tone=Tone.WARNING,
        text=f"{ctx.actor.name} moved {plural(units, 'unit')} of your claim on {req.ref} · {req.title} to another "
        f"technician.{kept} Questions go to the dispatchers.",
    ))


_GATE_WORDS = {
    Gate.HOME: "{person} is home staff; claims are for partner techs, home staff are scheduled directly.",
    Gate.NOT_VETTED: "{org} is not vetted yet, so {person} can't take work. A manager vets partners.",
    Gate.SUSPENDED: "{org} is suspended, so {person} can't take work.",
    Gate.NO_AGREEMENT: "No non-solicitation agreement is set up yet, so nobody can take work.",
    Gate.UNSIGNED: "{org} hasn't signed the current non-solicitation agreement (version {version}), so {person} "
    "can't take work yet. {signers} can sign it: they type `agreement` to me.",
    Gate.NO_GUIDELINES: "The field-conduct guidelines are not set up yet, so nobody can take work.",
    Gate.NOT_ACKED: "{person} hasn't acknowledged the field-conduct guidelines (version {version}) yet, so can't "
    "take work. Ask them to type `guidelines` to me.",
}


def check_receiver(ctx: Context, req: SurgeRequest, to: Person) -> None:
    """The claim gates (`closed_gate`, as for a claim of their own), for someone a dispatcher gives units."""
    s = session(ctx)
    if is_closed(req):
        raise Conflict(f"{req.ref} is {STATUS_WORDS[req.status].lower()}; its claims can't move.")
    if not to.active:
        raise Conflict(f"{to.name} is no longer on the roster, so can't take work.")
    org = s.get_one(Org, to.org_id)
    closed = closed_gate(s, org, pk(to), ctx.now)
    if closed is not None:
        signed = closed.guidelines or closed.agreement
        version = signed.version if signed else ""
        signers = ", ".join(names_with_role(ctx, Role.PARTNER_ADMIN, org_id=pk(org))) or "Their company's signatory"
        raise GateClosed(_GATE_WORDS[closed.gate].format(person=to.name, org=org.name, version=version,
                                                         signers=signers))
    if not to.has(Role.TECH, Role.PARTNER_ADMIN):
        raise Conflict(f"{to.name} is neither a tech nor a partner admin, so can't take work.")
    if req.visible_tier < org.tier:
        raise Conflict(f"{req.ref} is offered to tier {req.visible_tier} partners for now, and {org.name} is "
                       f"tier {org.tier}.", example=f"widen {req.ref} tier={org.tier}")


class SuspendPartner(BaseModel):
    partner: str
    why: str = ""


@command("suspend", summary="suspend a partner: claims not started come back, claims on site go to dispatch",
         usage='suspend <partner> ["why"]', example='suspend Contoso "a customer says our tech offered a cheaper deal"',
         roles={Role.MANAGER}, who="managers",
         args=[Arg("partner", Kind.TEXT), Arg("why", Kind.TEXT, rest=True, required=False, max_len=1000)])
def suspend(cmd: SuspendPartner, ctx: Context) -> Reply:
    s = session(ctx)
    org = find_partner(ctx, cmd.partner)
    reason = cmd.why
    if reason and f"{cmd.partner} {reason}".lower() in org.name.lower():
        reason = ""  # `suspend Contoso Field Services`: the name unquoted, no reason
    if org.status == OrgStatus.SUSPENDED:
        raise Conflict(f"{org.name} is suspended already.", example=f'reinstate "{org.name}"')
    before, org.status = org.status, OrgStatus.SUSPENDED
    audit(ctx, "partner.suspended", org_id=org.id, was=before, why=reason)
    reply = Reply(text="", tone=Tone.SUCCESS)
    revoked, on_site = _pull_back(ctx, org, "partner suspended" + (f": {reason}" if reason else ""), reply)
    people = s.exec(select(Person).where(Person.org_id == org.id).order_by(Person.name)).all()
    why = f": {reason}" if reason else "."
    for p in people:
        lines = [f"{org.name} is suspended by {ctx.actor.org_name}{why} Until it is reinstated you can't claim, "
                 "start or report work."]
        if revoked.get(pk(p)):
            lines.append("Taken back from you: " + "; ".join(revoked[pk(p)]) + ".")
        if on_site.get(pk(p)):
            lines.append("Your work on site (" + "; ".join(on_site[pk(p)]) + ") is with the dispatchers; "
                         "they will tell you whether to finish it.")
        reply.tell(Message(audience=Audience.DM, person_id=p.id, tone=Tone.WARNING, text="\n".join(lines)))
    n_revoked, n_site = sum(len(v) for v in revoked.values()), sum(len(v) for v in on_site.values())
    parts = [f"{org.name} is suspended: its people can't claim, start or report work."]
    if n_revoked:
        parts.append(f"Revoked {plural(n_revoked, 'claim')} not started (the units are back on the cards).")
    if n_site:
        parts.append(f"{plural(n_site, 'claim')} on site {'is' if n_site == 1 else 'are'} listed in the dispatch "
                     "channel with a Revoke button each.")
    reply.text = " ".join([*parts, f"Told {people_count(len(people))} of {org.name}."])
    return reply


def _pull_back(ctx: Context, org: Org, why: str, reply: Reply) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Revoke the org's claims that have not started; put its claims on site before the dispatchers.
    Each request is row-locked (in id order) before its claims are read. Returns, per person, what was
    revoked and what is on site."""
    s = session(ctx)
    revoked: dict[int, list[str]] = defaultdict(list)
    on_site: dict[int, list[str]] = defaultdict(list)
    request_ids = sorted(set(s.exec(select(Claim.request_id).where(
        Claim.org_id == org.id, col(Claim.status).in_(NOT_STARTED + (ClaimStatus.IN_PROGRESS,)))).all()))
    for rid in request_ids:
        req = get_request(ctx, rid, lock=True)
        claims = s.exec(select(Claim, Person).where(
            Claim.request_id == rid, Claim.org_id == org.id, Claim.person_id == Person.id,
            col(Claim.status).in_(NOT_STARTED + (ClaimStatus.IN_PROGRESS,))).order_by(col(Claim.id))
            .execution_options(populate_existing=True)).all()
        for c, person in claims:
            what = f"{req.ref} · {req.title} ({plural(c.units, 'unit')})"
            if c.status in NOT_STARTED:
                take_back(ctx, req, c, why)
                revoked[pk(person)].append(what)
                reply.card(pk(req))
                continue
            on_site[pk(person)].append(what)
            reply.tell(Message(
                audience=Audience.DISPATCH, request_id=req.id, tone=Tone.WARNING,
                text=f"{org.name} is suspended, and {person.name} is on site for {what}. "
                "Revoke the claim to pull them out, or let them finish and verify the work.",
                actions=[Action(kind=ActionKind.REVOKE, label="Revoke", style="danger",
                                command=f'revoke {req.ref} "{person.name}" "partner suspended"',
                                request_id=req.id, person_id=person.id, why="partner suspended")],
            ))
    return revoked, on_site


class ReinstatePartner(BaseModel):
    partner: str


@command("reinstate", summary="lift a partner's suspension: it is vetted again", usage="reinstate <partner>",
         example="reinstate Contoso", roles={Role.MANAGER}, who="managers",
         args=[Arg("partner", Kind.TEXT, rest=True)])
def reinstate(cmd: ReinstatePartner, ctx: Context) -> Reply:
    s = session(ctx)
    org = find_partner(ctx, cmd.partner)
    if org.status != OrgStatus.SUSPENDED:
        raise Conflict(f"{org.name} is not suspended (it is {org.status}).")
    org.status = OrgStatus.VETTED
    audit(ctx, "partner.reinstated", org_id=org.id, was=OrgStatus.SUSPENDED)
    people = s.exec(select(Person).where(Person.org_id == org.id).order_by(Person.name)).all()
    reply = Reply(text=f"{org.name} is reinstated: its people can claim and work again. Claims taken back stay "
                  f"with the cards. Told {people_count(len(people))} of {org.name}.", tone=Tone.SUCCESS)
    for p in people:
        reply.tell(Message(audience=Audience.DM, person_id=p.id, tone=Tone.SUCCESS,
                           text=f"{org.name} is reinstated by {ctx.actor.org_name}: you can claim, start and report "
                           "work again."))
    return reply
