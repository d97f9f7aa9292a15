"""What happens after a problem (`PR-n`) or a lead (`LD-n`) comes back from the field.

A problem is open until a dispatcher resolves it (`resolve PR-n`, through `handlers.incidents`'
`RESOLVERS`); the claimant who raised it is told, and one left open for `PROBLEM_REMINDER` reminds the
dispatchers once (the clock records a key per problem). A lead is new, then contacted, won (with a
value that counts in the partner's record) or lost; the same text from the same person on the same
request is one lead.

Privacy: a problem's or a lead's text is the tech's words from the customer's site, so every list
here is marked private and addressed to home staff only.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from handlers.common import audit, money, session
from handlers.errors import Conflict, NotFound, UsageError
from handlers.grammar import Arg, Kind, Opt
from handlers.incidents import RESOLVERS, Resolve, age, parse_ref, still_open
from handlers.registry import command
from handlers.types import Audience, Context, Fact, Message, Reply, Tone
from models.followups import Lead, LeadState, Problem, lead_key
from models.queries import total
from models.tables import Claim, Org, Person, Role, SurgeRequest, pk, pks

PROBLEM_REMINDER = timedelta(hours=4)
REMIND_WITHIN = timedelta(days=7)  # problems older than this when reminders arrived are not chased
SHOWN = 20
FOLDED = 5
STATES = ", ".join(s.value for s in LeadState if s is not LeadState.NEW)
STATUS_EXAMPLE = "lead-status LD-5 won value=1200"


def _short(text: str, n: int = 160) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def folded(lines: list[str], command_name: str, limit: int = FOLDED) -> str:
    """At most `limit` lines, then how many more and the command that lists them all."""
    more = f"\n…and {len(lines) - limit} more: `{command_name}`" if len(lines) > limit else ""
    return "\n".join(f"• {line}" for line in lines[:limit]) + more


# -- problems -------------------------------------------------------------------------------------

def open_problem_lines(s: Session, now: datetime, limit: int = 200) -> list[str]:
    """Open problems, oldest first: id, request, who raised it, age and what happened."""
    rows = s.exec(
        select(Problem, SurgeRequest.title, Person.name, Org.name)
        .join(SurgeRequest, col(SurgeRequest.id) == Problem.request_id)
        .join(Person, col(Person.id) == Problem.person_id)
        .join(Org, col(Org.id) == Problem.org_id).where(col(Problem.resolved_at).is_(None))
        .order_by(col(Problem.at), col(Problem.id)).limit(limit)
    ).all()
    return [f"{p.ref} · SR-{p.request_id} · {title}, {name} ({org}), {age(now, p.at)}: “{_short(p.text)}”"
            for p, title, name, org in rows]


class ListProblems(BaseModel):
    pass


@command("problems", summary="open problems from the field, with their age", usage="problems",
         example="problems", roles={Role.DISPATCHER, Role.MANAGER}, who="dispatchers, managers", reads_only=True)
def problems(cmd: ListProblems, ctx: Context) -> Reply:
    lines = open_problem_lines(session(ctx), ctx.now)
    if not lines:
        return Reply(title="Open problems", text="No open problems.")
    more = f"\n…and {len(lines) - SHOWN} more" if len(lines) > SHOWN else ""
    return Reply(title=f"Open problems ({len(lines)})", private=True,
                 text="\n".join(f"• {line}" for line in lines[:SHOWN]) + more
                 + '\nClose one with `resolve PR-n "what was done"`.')


def resolve_problem(cmd: Resolve, number: int, ctx: Context) -> Reply:
    if cmd.units is not None:
        raise UsageError("units= credits a dispute; a problem has no units.",
                         example=f'resolve PR-{number} "sent a second tech with a pump"')
    s = session(ctx)
    p = still_open(ctx, Problem, number, "PR")
    p.resolution, p.resolved_by_id, p.resolved_at = cmd.text, ctx.actor.person_id, ctx.now
    req = s.get_one(SurgeRequest, p.request_id)
    raiser = s.get_one(Person, p.person_id)
    audit(ctx, "problem.resolved", request=req, org_id=p.org_id, problem=p.ref, text=cmd.text)
    return Reply(tone=Tone.SUCCESS, text=f"{p.ref} on {req.ref} ({raiser.name}) is resolved; "
                 f"{raiser.name} is told.").tell(Message(
                     audience=Audience.DM, person_id=raiser.id, request_id=req.id, private=True, tone=Tone.SUCCESS,
                     title=f"Problem {p.ref} resolved",
                     text=f"{ctx.actor.name} resolved the problem you raised on {req.ref} · {req.title} "
                     f"(“{_short(p.text)}”): {cmd.text}"))


RESOLVERS["PR"] = resolve_problem


def overdue_problems(s: Session, now: datetime) -> list[int]:
    """Problems left open for `PROBLEM_REMINDER` (and raised within `REMIND_WITHIN`): the clock's."""
    return pks(s.exec(select(Problem.id).where(
        col(Problem.resolved_at).is_(None), Problem.at <= now - PROBLEM_REMINDER, Problem.at > now - REMIND_WITHIN,
    ).order_by(col(Problem.id))).all())


def problem_reminder(s: Session, problem_id: int, now: datetime) -> Reply:
    """The one reminder to the dispatchers about a problem still open."""
    p = s.get_one(Problem, problem_id)
    req = s.get_one(SurgeRequest, p.request_id)
    raiser = s.get_one(Person, p.person_id)
    return Reply(text="", messages=[Message(
        audience=Audience.DISPATCH, request_id=req.id, private=True, tone=Tone.WARNING,
        text=f"⏰ {p.ref} on {req.ref} · {req.title}, raised by {raiser.name}, is still open "
        f"({age(now, p.at)}): “{_short(p.text)}”\nClose it with `resolve {p.ref} \"what was done\"`.")])


# -- leads ----------------------------------------------------------------------------------------

def hand_back(ctx: Context, req: SurgeRequest, claim: Claim, text: str) -> tuple[Lead, bool]:
    """The lead for this text from the claimant on `req`: (lead, True) when new, (earlier one, False)."""
    s = session(ctx)
    key = lead_key(text)

    def earlier() -> Lead | None:
        return s.exec(select(Lead).where(Lead.request_id == req.id, Lead.person_id == claim.person_id,
                                         Lead.key == key)).first()

    if (found := earlier()) is not None:
        return found, False
    lead = Lead(request_id=pk(req), person_id=claim.person_id, org_id=claim.org_id, text=text, at=ctx.now, key=key)
    try:
        with s.begin_nested():  # the same lead sent twice at once: the unique key lets one in
            s.add(lead)
            s.flush()
    except IntegrityError:
        if (found := earlier()) is None:  # the unique key let the other one in, so it is there
            raise
        return found, False
    return lead, True


def _lead_line(lead: Lead, title: str, name: str, org: str, now: datetime) -> str:
    state = lead.state + (f" {money(lead.value_cents)}" if lead.state == LeadState.WON and lead.value_cents else "")
    return (f"{lead.ref} · {state} · SR-{lead.request_id} · {title}, {name} ({org}), {age(now, lead.at)}: "
            f"“{_short(lead.text)}”")


def lead_lines(s: Session, now: datetime, *, open_only: bool = False, limit: int = 200) -> list[str]:
    """Leads, newest first (only new and contacted ones with `open_only`), each with its state."""
    stmt = (select(Lead, SurgeRequest.title, Person.name, Org.name)
            .join(SurgeRequest, col(SurgeRequest.id) == Lead.request_id)
            .join(Person, col(Person.id) == Lead.person_id).join(Org, col(Org.id) == Lead.org_id))
    if open_only:
        stmt = stmt.where(col(Lead.state).in_([LeadState.NEW, LeadState.CONTACTED]))
    rows = s.exec(stmt.order_by(col(Lead.at).desc(), col(Lead.id).desc()).limit(limit)).all()
    return [_lead_line(*row, now) for row in rows]


def won_leads(s: Session, org_id: int) -> tuple[int, int]:
    """How many of the partner's leads were won, and what they are worth in cents."""
    n, cents = s.exec(select(func.count(), total(Lead.value_cents))
                      .where(Lead.org_id == org_id, Lead.state == LeadState.WON)).one()
    return int(n), int(cents)


class ListLeads(BaseModel):
    pass


@command("leads", summary="leads handed back by partners, with their state", usage="leads", example="leads",
         roles={Role.DISPATCHER, Role.MANAGER}, who="dispatchers, managers", reads_only=True)
def leads(cmd: ListLeads, ctx: Context) -> Reply:
    s = session(ctx)
    lines = lead_lines(s, ctx.now)
    if not lines:
        return Reply(title="Leads", text="No leads handed back yet.")
    counts = dict(s.exec(select(Lead.state, func.count()).group_by(Lead.state)).all())
    worth = s.exec(select(total(Lead.value_cents)).where(Lead.state == LeadState.WON)).one()
    summary = " · ".join(f"{counts.get(st, 0):,} {st.value}" for st in LeadState) + f" · won {money(int(worth))}"
    more = f"\n…and {len(lines) - SHOWN} more" if len(lines) > SHOWN else ""
    return Reply(title=f"Leads ({len(lines)})", private=True, text=summary, fields=[Fact(
        label="Newest first", value="\n".join(f"• {line}" for line in lines[:SHOWN]) + more
        + f"\nFollow one up with `{STATUS_EXAMPLE}`.")])


class LeadStatus(BaseModel):
    lead: str
    state: str
    value: int | None = None  # cents

    @field_validator("state")
    @classmethod
    def _state(cls, v: str) -> str:
        if v.lower() not in {LeadState.CONTACTED, LeadState.WON, LeadState.LOST}:
            raise ValueError(f"A lead's state is one of {STATES}; “{v[:40]}” isn't")
        return v.lower()


@command("lead-status", summary="follow a lead up: contacted, won (with its value) or lost",
         usage="lead-status LD-5 contacted|won|lost [value=1200]", example=STATUS_EXAMPLE,
         roles={Role.DISPATCHER, Role.MANAGER}, who="dispatchers, managers",
         args=[Arg("lead", Kind.WORD, max_len=40), Arg("state", Kind.WORD, max_len=40)],
         opts={"value": Opt(Kind.MONEY)})
def lead_status(cmd: LeadStatus, ctx: Context) -> Reply:
    prefix, number = parse_ref(cmd.lead)
    if prefix != "LD":
        raise UsageError(f"`lead-status` follows up a lead, like LD-5; {prefix}-{number} isn't one.",
                         example=STATUS_EXAMPLE)
    if cmd.value is not None and cmd.state != LeadState.WON:
        raise UsageError("value= is what a won lead is worth; give it with `won`.", example=STATUS_EXAMPLE)
    s = session(ctx)
    lead = s.exec(select(Lead).where(Lead.id == number).with_for_update()
                  .execution_options(populate_existing=True)).first()
    if lead is None:
        raise NotFound(f"There is no LD-{number}.")
    if lead.state == cmd.state and (cmd.value is None or cmd.value == lead.value_cents):
        raise Conflict(f"{lead.ref} is {lead.state} already.", example=STATUS_EXAMPLE)
    was = lead.state
    lead.state = cmd.state
    won = cmd.state == LeadState.WON
    lead.value_cents = (lead.value_cents if cmd.value is None else cmd.value) if won else None
    req = s.get_one(SurgeRequest, lead.request_id)
    audit(ctx, "lead.status", request=req, org_id=lead.org_id, lead=lead.ref, was=was, state=lead.state,
          value_cents=lead.value_cents)
    worth = f", worth {money(lead.value_cents)}" if lead.value_cents else ""
    reply = Reply(tone=Tone.SUCCESS, text=f"{lead.ref} on {req.ref} is {lead.state}{worth} (was {was}).")
    if lead.state == LeadState.WON and was != LeadState.WON:
        reply.tell(Message(audience=Audience.DM, person_id=lead.person_id, request_id=req.id, tone=Tone.SUCCESS,
                           title=f"Lead {lead.ref} won",
                           text=f"The lead you handed back on {req.ref} · {req.title} was won. Thank you: "
                           "it counts in your company's favour."))
    return reply
