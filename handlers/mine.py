"""`mine`: each person's own work, by role.

A tech: their claims by state and what they earned this month. A partner admin: the same for the
whole partner and each of its people. A dispatcher: what waits for their approval or verification.
A manager: that, and the problems on requests still open. Earnings are the statement's figures
(`models.books.month_lines`: verified work at each claim's pay rate, dispute credits and approved
expenses, in the reader's month, a settled month keeping what it paid).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from pydantic import BaseModel
from sqlmodel import col, select

from handlers.books import month_label, owed_words
from handlers.common import plural, session, when
from handlers.registry import command
from handlers.types import Action, ActionKind, Context, Fact, Reply
from handlers.views import CLAIM_WORDS
from models.books import Line, month_lines, month_of
from models.tables import (
    LIVE_CLAIM,
    TERMINAL_REQUEST,
    Claim,
    ClaimStatus,
    Person,
    Problem,
    Role,
    SurgeRequest,
)

SHOWN = 15
PROBLEM_DAYS = 30  # problems this recent, on requests not yet closed, are still open


class ShowMine(BaseModel):
    pass


def _claims_by_state(ctx: Context, *, person_id: int | None = None, org_id: int | None = None) -> list[Fact]:
    """Live claims grouped by state (pending, claimed, on site, reported done)."""
    stmt = (select(Claim, SurgeRequest, Person).join(SurgeRequest, col(SurgeRequest.id) == col(Claim.request_id))
            .join(Person, col(Person.id) == col(Claim.person_id)).where(col(Claim.status).in_(LIVE_CLAIM)))
    stmt = stmt.where(col(Claim.person_id) == person_id) if person_id is not None \
        else stmt.where(col(Claim.org_id) == org_id)
    by_state: dict[str, list[str]] = defaultdict(list)
    for c, r, p in session(ctx).exec(stmt.order_by(col(SurgeRequest.deadline), col(Claim.id))).all():
        who = "" if person_id is not None else f"{p.name}: "
        units = c.units_done if c.status == ClaimStatus.DONE else c.units
        by_state[c.status].append(f"{who}{r.ref} · {r.title}: {plural(units, 'unit')}, "
                                  f"due {when(r.deadline, ctx.actor.tz)}")
    return [Fact(label=CLAIM_WORDS[state].capitalize(), value="\n".join(by_state[state][:SHOWN]))
            for state in LIVE_CLAIM if by_state[state]]


def _earned(lines: list[Line]) -> str:
    """The statement's own lines and words: verified work, dispute credits and approved expenses."""
    return owed_words(lines)


def _tech(ctx: Context, month: str) -> list[Fact]:
    lines = [x for x in month_lines(session=session(ctx), month=month, tz=ctx.actor.tz, org_id=ctx.actor.org_id)
             if x.person_id == ctx.actor.person_id]
    facts = _claims_by_state(ctx, person_id=ctx.actor.person_id) or [Fact(label="Your claims", value="None open.")]
    return facts + [Fact(label=f"You earned in {month_label(month)}", value=_earned(lines))]


def _partner(ctx: Context, month: str) -> list[Fact]:
    lines = month_lines(session=session(ctx), month=month, tz=ctx.actor.tz, org_id=ctx.actor.org_id)
    people = session(ctx).exec(select(Person).where(Person.org_id == ctx.actor.org_id).order_by(Person.name)).all()
    each = "\n".join(f"{p.name}: {_earned([x for x in lines if x.person_id == p.id])}" for p in people)
    facts = _claims_by_state(ctx, org_id=ctx.actor.org_id) or [
        Fact(label=f"{ctx.actor.org_name}'s claims", value="None open.")]
    return facts + [Fact(label=f"{ctx.actor.org_name} earned in {month_label(month)}",
                         value=f"{_earned(lines)}\n{each}")]


def _waiting(ctx: Context) -> tuple[Fact, list[Action]]:
    rows = session(ctx).exec(
        select(Claim, SurgeRequest, Person).where(
            col(Claim.status).in_([ClaimStatus.PENDING, ClaimStatus.DONE]),
            col(SurgeRequest.id) == col(Claim.request_id), col(Person.id) == col(Claim.person_id)).order_by(col(Claim.id))
    ).all()
    lines, actions = [], []
    for c, r, p in rows:
        pending = c.status == ClaimStatus.PENDING
        verb, kind = ("approve", ActionKind.APPROVE) if pending else ("verify", ActionKind.VERIFY)
        lines.append(f"{r.ref} · {r.title}: {p.name} ({plural(c.units if pending else c.units_done, 'unit')}) "
                     f"to {verb}")
        actions.append(Action(kind=kind, label=f"{verb.capitalize()} {p.name} on {r.ref}",
                              command=f'{verb} {r.ref} "{p.name}"', request_id=r.id, person_id=p.id))
    text = "\n".join(lines[:SHOWN]) + (f"\n… and {len(lines) - SHOWN} more" if len(lines) > SHOWN else "")
    return Fact(label=f"Waiting for approval or verification ({len(lines)})",
                value=text or "Nothing to approve or verify."), actions[:5]


def _problems(ctx: Context) -> Fact:
    rows = session(ctx).exec(
        select(Problem, SurgeRequest, Person).join(SurgeRequest, col(SurgeRequest.id) == col(Problem.request_id))
        .join(Person, col(Person.id) == col(Problem.person_id))
        .where(col(SurgeRequest.status).not_in(TERMINAL_REQUEST),
               col(Problem.at) >= ctx.now - timedelta(days=PROBLEM_DAYS), col(Problem.resolved_at).is_(None))
        .order_by(col(Problem.at))
    ).all()
    lines = [f"{r.ref} · {r.title}: “{pr.text}” ({p.name}, {when(pr.at, ctx.actor.tz)})" for pr, r, p in rows]
    return Fact(label=f"Open problems ({len(lines)})", value="\n".join(lines[:SHOWN]) or "None.")


@command("mine", summary="your own work: claims, earnings, what waits for you", usage="mine", example="mine",
         reads_only=True)
def mine(cmd: ShowMine, ctx: Context) -> Reply:
    month = month_of(ctx.now, ctx.actor.tz)
    fields: list[Fact] = []
    actions: list[Action] = []
    a = ctx.actor
    if a.has(Role.PARTNER_ADMIN):
        fields += _partner(ctx, month)
    elif a.has(Role.TECH):
        fields += _tech(ctx, month)
    if a.has(Role.DISPATCHER, Role.MANAGER):
        waiting, actions = _waiting(ctx)
        fields.append(waiting)
    private = False
    if a.has(Role.MANAGER):
        fields.append(_problems(ctx))
        private = True  # the problems are the techs' words from the customer's site
    if not fields:
        return Reply(title=f"Your work · {a.name}", text="Nothing of yours to show: `help` says what you can do.")
    return Reply(title=f"Your work · {a.name}", text=f"{a.org_name} · {when(ctx.now, a.tz)}", fields=fields,
                 actions=actions, private=private)
