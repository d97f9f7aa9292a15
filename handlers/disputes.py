"""Disputes (`DS-n`): a partner admin contests a rejection, a revocation or a short verification of
the partner's work; dispatchers and managers are told, and it stays open until `resolve DS-n`, which
may credit verified units at the claim's rates. A credit counts in the books like a verification
recorded that day: in its month, or as an adjustment of the next open month if that one was settled.

Privacy: what goes to the partner names the request by its id and title only.
"""
from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import Session, col, select

from handlers.common import audit, get_request, money, plural, session
from handlers.errors import Conflict, Forbidden, UsageError
from handlers.grammar import Arg, Kind
from handlers.incidents import RESOLVERS, Resolve, admins_of, still_open
from handlers.registry import command
from handlers.types import Audience, Context, Message, Reply, Tone
from models.ledger import Dispute
from models.tables import Claim, ClaimStatus, Org, Person, Role, pk

DISPUTE_EXAMPLE = 'dispute SR-7 "all 8 machines were fixed; the customer confirmed by email"'


def grounds(c: Claim) -> str | None:
    """What about a claim can be disputed: its rejection, its revocation or a short verification."""
    if c.status == ClaimStatus.REVOKED:
        return "revoked"
    if c.status == ClaimStatus.REJECTED or c.rework > 0 and c.status != ClaimStatus.VERIFIED:
        return "rejected"
    if c.status == ClaimStatus.VERIFIED and c.units_verified < c.units_done:
        return "short"
    return None


WORDS = {"rejected": "the rejection", "revoked": "the revocation", "short": "the short verification"}


class RaiseDispute(BaseModel):
    request: int
    text: str


@command("dispute", summary="dispute a rejection, a revocation or a short verification of your company's work",
         usage='dispute SR-7 "why"', example=DISPUTE_EXAMPLE, roles={Role.PARTNER_ADMIN}, who="partner admins",
         args=[Arg("request", Kind.REQUEST), Arg("text", Kind.TEXT, rest=True, max_len=2000)])
def dispute(cmd: RaiseDispute, ctx: Context) -> Reply:
    s = session(ctx)
    req = get_request(ctx, cmd.request)
    ours = s.exec(select(Claim).where(Claim.request_id == req.id, Claim.org_id == ctx.actor.org_id)
                  .order_by(col(Claim.id).desc())).all()
    if not ours:
        raise Forbidden(f"{ctx.actor.org_name} has no work on {req.ref}; a partner's admins dispute only "
                        "their own company's work.")
    open_ids = set(s.exec(select(Dispute.claim_id).where(Dispute.org_id == ctx.actor.org_id,
                                                         col(Dispute.resolved_at).is_(None))).all())
    candidates = [(c, about) for c in ours if (about := grounds(c)) and c.id not in open_ids]
    if not candidates:
        raise Conflict(f"Nothing of {ctx.actor.org_name}'s on {req.ref} can be disputed: only a rejection, a "
                       "revocation or a verification of fewer units than reported can, once each until it "
                       "is resolved.")
    c, about = candidates[0]
    d = Dispute(claim_id=pk(c), org_id=c.org_id, raised_by_id=ctx.actor.pid, about=about, text=cmd.text,
                at=ctx.now)
    s.add(d)
    s.flush()
    tech = s.get_one(Person, c.person_id)
    audit(ctx, "dispute.raised", claim=c, dispute=d.ref, about=about)
    detail = (f"{ctx.actor.name} ({ctx.actor.org_name}) disputes {WORDS[about]} of {tech.name}'s work on "
              f"{req.ref} · {req.title} ({_figures(c)}): “{cmd.text}”\nClose it with "
              f"`resolve {d.ref} \"what was done\" [units=N]`; units are credited at {money(c.pay_cents)} per unit.")
    reply = Reply(tone=Tone.SUCCESS, text=f"Recorded {d.ref}: your dispute of {WORDS[about]} of {tech.name}'s "
                  f"work on {req.ref}. Dispatch and the managers are told; you'll hear when it is resolved.")
    for audience in (Audience.DISPATCH, Audience.MANAGERS):
        reply.tell(Message(audience=audience, request_id=req.id, tone=Tone.WARNING,
                           title=f"Dispute {d.ref} · {req.ref}", text=detail))
    return reply


def _figures(c: Claim) -> str:
    return (f"claimed {c.units}, reported {c.units_done}, verified {c.units_verified}"
            + (f", sent back {plural(c.rework, 'time')}" if c.rework else ""))


def creditable(s: Session, c: Claim) -> int:
    """Units a dispute may still credit: what was claimed or reported, less what is verified or credited."""
    credited = sum(s.exec(select(Dispute.units_credited).where(Dispute.claim_id == c.id)).all())
    return max(0, max(c.units, c.units_done) - c.units_verified - credited)


def resolve_dispute(cmd: Resolve, number: int, ctx: Context) -> Reply:
    s = session(ctx)
    d = still_open(ctx, Dispute, number, "DS")
    c = s.get_one(Claim, d.claim_id)
    req = get_request(ctx, c.request_id)
    units = cmd.units or 0
    if units > (most := creditable(s, c)):
        raise UsageError(f"{d.ref} can credit at most {plural(most, 'unit')} (claimed {c.units}, reported "
                         f"{c.units_done}, verified {c.units_verified}).",
                         example=f'resolve {d.ref} "{cmd.text[:40]}" units={most}' if most else None)
    d.resolution, d.resolved_by_id, d.resolved_at, d.units_credited = cmd.text, ctx.actor.person_id, ctx.now, units
    audit(ctx, "dispute.resolved", claim=c, units=units or None, dispute=d.ref, credit_cents=units * c.pay_cents)
    credit = (f" Credited {plural(units, 'verified unit')} at {money(c.pay_cents)}: {money(units * c.pay_cents)}, "
              "on the statement of this month." if units else " No units credited.")
    org = s.get_one(Org, d.org_id)
    reply = Reply(tone=Tone.SUCCESS, text=f"{d.ref} ({org.name}, {req.ref}) is resolved: “{cmd.text}”.{credit}")
    told = {pk(p) for p in admins_of(s, d.org_id)} | {d.raised_by_id}
    for pid in sorted(told):
        reply.tell(Message(audience=Audience.DM, person_id=pid, request_id=req.id, title=f"Dispute {d.ref} resolved",
                           tone=Tone.SUCCESS, text=f"{ctx.actor.name} resolved your dispute {d.ref} about "
                           f"{req.ref} · {req.title}: “{cmd.text}”.{credit}"))
    return reply


RESOLVERS["DS"] = resolve_dispute
