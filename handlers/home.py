"""Each person's home page (Slack's App Home, Teams' personal tab): what matters to them now."""
from __future__ import annotations

from sqlmodel import select

from handlers.common import money, plural, session, when
from handlers.types import Action, ActionKind, Context, Fact, Reply
from handlers.views import CLAIM_WORDS
from models.queries import surge_units
from models.tables import LIVE_CLAIM, Claim, ClaimStatus, Person, RequestStatus, Role, SurgeRequest

OPEN = (RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED)
SHOWN = 15


def home(ctx: Context) -> Reply:
    if not ctx.actor.known:
        return Reply(title="Surge", text="You're not on this Surge roster yet. An admin adds you; then this page "
                     "shows your work.")
    sections: list[Fact] = []
    actions: list[Action] = []
    s = session(ctx)
    tz = ctx.actor.tz
    if ctx.actor.has(Role.TECH, Role.PARTNER_ADMIN):
        mine = s.exec(
            select(Claim, SurgeRequest).where(Claim.person_id == ctx.actor.person_id, Claim.status.in_(LIVE_CLAIM),
                                              SurgeRequest.id == Claim.request_id).order_by(SurgeRequest.deadline)
        ).all()
        sections.append(Fact(label="Your claims", value="\n".join(
            f"{r.ref} · {r.title}: {plural(c.units, 'unit')} {CLAIM_WORDS[c.status]}, due {when(r.deadline, tz)}"
            for c, r in mine[:SHOWN]) or "None right now."))
        for c, r in mine[:5]:
            if c.status == ClaimStatus.ACTIVE:
                actions.append(Action(kind=ActionKind.START, label=f"Check in {r.ref}", command=f"start {r.ref}"))
    if ctx.actor.has(Role.TECH, Role.PARTNER_ADMIN, Role.DISPATCHER):
        stmt = select(SurgeRequest).where(SurgeRequest.status.in_(OPEN), SurgeRequest.deadline > ctx.now)
        if not ctx.actor.is_home:  # a partner sees a request once it is offered as wide as the partner's tier
            stmt = stmt.where(SurgeRequest.visible_tier >= ctx.actor.tier)
        rows = s.exec(stmt.order_by(SurgeRequest.deadline).limit(SHOWN)).all()
        sections.append(Fact(label="Requests with units left", value="\n".join(
            f"{r.ref} · {r.title}: {r.units_left:,} of {r.units:,} left, {money(r.pay_cents)}/unit, "
            f"due {when(r.deadline, tz)}" for r in rows) or "None right now."))
    if ctx.actor.has(Role.DISPATCHER):
        waiting = s.exec(
            select(Claim, SurgeRequest, Person).where(
                Claim.status.in_([ClaimStatus.PENDING, ClaimStatus.DONE]), SurgeRequest.id == Claim.request_id,
                Person.id == Claim.person_id).order_by(Claim.id).limit(SHOWN)
        ).all()
        sections.append(Fact(label="Waiting for you", value="\n".join(
            f"{r.ref}: {p.name} — {plural(c.units if c.status == ClaimStatus.PENDING else c.units_done, 'unit')} "
            + ("to approve" if c.status == ClaimStatus.PENDING else "to verify")
            for c, r, p in waiting) or "Nothing to approve or verify."))
        for c, r, p in waiting[:5]:
            verb, kind = ("approve", ActionKind.APPROVE) if c.status == ClaimStatus.PENDING else ("verify", ActionKind.VERIFY)
            actions.append(Action(kind=kind, label=f"{verb.capitalize()} {p.name} on {r.ref}",
                                  command=f'{verb} {r.ref} "{p.name}"'))
    if ctx.actor.has(Role.MANAGER):
        u = surge_units(session=s, now=ctx.now)
        sections.append(Fact(label="Today's numbers", value=(
            f"{u.open:,} open · {u.claimed:,} claimed · {u.in_progress:,} in progress · {u.done:,} done · "
            f"{u.verified:,} verified · {u.at_risk:,} at risk")))
        actions.append(Action(kind=ActionKind.RUN, label="Today's digest", command="digest"))
    return Reply(title=f"Surge · {ctx.actor.name}", text=f"{ctx.actor.org_name} · updated {when(ctx.now, tz)}",
                 fields=sections, actions=actions[:10])
