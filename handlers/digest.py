"""The manager's daily digest: the surge at a glance, yesterday, partners, problems and leads, money.

`build_digest` computes it for one manager and one local day (every figure is an SQL aggregate from
`models.queries`); `render_digest` turns it into a `Reply` for any chat platform. "Yesterday" and the
month run midnight to midnight in the manager's own time zone: the month to date is the 1st of the
day's month through the end of the day itself (so today's verified work counts); the glance and the
risk are as of `now`.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, computed_field
from sqlmodel import Session, select

from handlers.common import money, plural, session as session_of, when
from handlers.contracts import current_agreement
from handlers.errors import NotFound, UsageError
from handlers.forecast import add_projections
from handlers.followups import folded, lead_lines, open_problem_lines
from handlers.grammar import Kind, Opt
from handlers.incidents import open_incident_lines
from handlers.registry import command
from handlers.types import Chart, Context, Fact, Reply, Tone
from handlers.views import progress_bar
from models.queries import (
    AT_RISK_HOURS, activity, at_risk_requests, field_notes, partner_activity, signature_expiries,
    surge_units, track_records, units_by_request, verified_money,
)
from models.tables import Lead, Org, OrgKind, Person, Problem, Role

EXPIRY_WARNING = timedelta(days=30)


class Glance(BaseModel):
    open: int
    claimed: int
    in_progress: int
    done: int
    verified: int
    risk_unclaimed: int
    risk_not_started: int

    @computed_field
    @property
    def at_risk(self) -> int:
        return self.risk_unclaimed + self.risk_not_started

    @property
    def total(self) -> int:
        return self.open + self.claimed + self.in_progress + self.done + self.verified


class AtRisk(BaseModel):
    request_id: int
    title: str
    deadline: datetime
    unclaimed: int
    not_started: int


class Activity(BaseModel):
    """Yesterday, from the audit log: how many of each event, and the units they moved."""

    posted: int = 0
    units_posted: int = 0
    taken: int = 0
    units_taken: int = 0
    done: int = 0
    units_done: int = 0
    verified: int = 0
    units_verified: int = 0
    released: int = 0
    units_released: int = 0
    sent_back: int = 0
    problems: int = 0
    leads: int = 0
    signed: int = 0


_ACTIONS = {"request.posted": "posted", "claim.taken": "taken", "claim.done": "done",
            "claim.verified": "verified", "claim.released": "released"}
_COUNTS = {"claim.sent_back": "sent_back", "problem.reported": "problems", "lead.handed_back": "leads",
           "agreement.signed": "signed"}


class AgreementState(StrEnum):
    SIGNED = "signed"
    EXPIRING = "expiring"  # valid, but for 30 days or less
    MISSING = "missing"  # no valid signature on the current version


class PartnerLine(BaseModel):
    org_id: int
    name: str
    status: str
    agreement: AgreementState
    valid_until: datetime | None = None
    taken: int = 0  # yesterday's units, from the audit log
    done: int = 0
    verified: int = 0
    released: int = 0
    units_verified: int = 0  # all time, the track record
    claims_verified: int = 0
    on_time: int = 0
    rework: int = 0
    releases: int = 0
    leads: int = 0


class Note(BaseModel):
    at: datetime
    text: str
    person: str
    org: str
    request_id: int


class Money(BaseModel):
    billed: int = 0  # cents
    paid: int = 0

    @computed_field
    @property
    def margin(self) -> int:
        return self.billed - self.paid


class Digest(BaseModel):
    manager_id: int
    manager: str
    timezone: str
    day: date
    now: datetime
    month_start: date  # the month to date runs from here to the end of `day`
    glance: Glance
    at_risk: list[AtRisk]
    yesterday: Activity
    partners: list[PartnerLine]
    problems: list[Note]
    leads: list[Note]
    money_yesterday: Money
    money_month: Money
    chart: Chart | None = None
    incidents: list[str] = []  # open incidents against partners, with their age and response
    open_problems: list[str] = []  # problems not yet resolved, oldest first, with their age
    open_leads: list[str] = []  # leads new or contacted, newest first, with their state

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def yesterday_day(self) -> date:
        return self.day - timedelta(days=1)


def manager_zone(s: Session, manager_id: int) -> tuple[Person, str]:
    """The manager and their time zone: their own, else their org's, else UTC."""
    person = s.get(Person, manager_id)
    if person is None:
        raise NotFound(f"There is no person with id {manager_id} on the roster.")
    org = s.get(Org, person.org_id)
    return person, person.timezone or (org.timezone if org else None) or "UTC"


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


class SharedFigures:
    """Figures that do not depend on the manager, computed by the first digest that needs them and
    reused by the next ones of the same run (one clock tick, one `surge digest`).

    As of `now` (the glance, the risk, the partners, their agreements and track records, the chart)
    they are the same for every manager; over a day or a month they are the same for every manager
    whose midnights fall at the same instants (the same time zone, in effect), so they are kept per
    window. Only a run's own digests share them: they are as fresh as the run."""

    def __init__(self) -> None:
        self._figures: dict[tuple, object] = {}

    def get(self, key: tuple, compute):
        if key not in self._figures:
            self._figures[key] = compute()
        return self._figures[key]


class _Unshared(SharedFigures):
    def get(self, key: tuple, compute):
        return compute()


def build_digest(*, session: Session, manager_id: int, day: date, now: datetime,
                 shared: SharedFigures | None = None) -> Digest:
    s = session
    fig = shared or _Unshared()
    person, tz_name = manager_zone(s, manager_id)
    tz = ZoneInfo(tz_name)
    yesterday = day - timedelta(days=1)
    start, end = _midnight(yesterday, tz), _midnight(day, tz)
    month_start = day.replace(day=1)

    units = fig.get(("units", now), lambda: surge_units(session=s, now=now))
    glance = Glance(open=units.open, claimed=units.claimed, in_progress=units.in_progress, done=units.done,
                    verified=units.verified, risk_unclaimed=units.risk_unclaimed,
                    risk_not_started=units.risk_not_started)
    risk = [AtRisk(request_id=r.request_id, title=r.title, deadline=r.deadline, unclaimed=r.unclaimed,
                   not_started=r.not_started) for r in fig.get(("risk", now), lambda: at_risk_requests(session=s, now=now))]

    tallies = fig.get(("activity", start, end), lambda: activity(session=s, start=start, end=end))
    counts: dict[str, int] = {}
    for action, field in _ACTIONS.items():
        tally = tallies.get(action)
        counts[field], counts[f"units_{field}"] = (tally.count, tally.units) if tally else (0, 0)
    for action, field in _COUNTS.items():
        counts[field] = tallies[action].count if action in tallies else 0

    def expiries_now() -> dict[int, datetime]:
        ag = current_agreement(s)
        return signature_expiries(session=s, agreement_id=ag.id, now=now) if ag else {}

    expiries = fig.get(("expiries", now), expiries_now)
    records = fig.get(("track records", now), lambda: track_records(session=s))
    days = fig.get(("partner activity", start, end), lambda: partner_activity(session=s, start=start, end=end))
    orgs = fig.get(("partners", now), lambda: [(o.id, o.name, o.status) for o in s.exec(
        select(Org).where(Org.kind == OrgKind.PARTNER).order_by(Org.name)).all()])
    partners = []
    for org_id, name, status in orgs:
        until = expiries.get(org_id)
        state = (AgreementState.MISSING if until is None
                 else AgreementState.EXPIRING if until <= now + EXPIRY_WARNING else AgreementState.SIGNED)
        rec, act = records[org_id], days.get(org_id)
        partners.append(PartnerLine(
            org_id=org_id, name=name, status=status, agreement=state, valid_until=until,
            taken=act.units_taken if act else 0, done=act.units_done if act else 0,
            verified=act.units_verified if act else 0, released=act.units_released if act else 0,
            units_verified=rec.units_verified, claims_verified=rec.claims_verified, on_time=rec.on_time,
            rework=rec.rework, releases=rec.releases, leads=rec.leads,
        ))

    def notes(kind) -> list[Note]:
        rows = fig.get(("notes", kind.__name__, start, end),
                       lambda: field_notes(session=s, kind=kind, start=start, end=end))
        return [Note(at=n.at, text=n.text, person=n.person, org=n.org, request_id=n.request_id) for n in rows]

    periods = ((start, end), (_midnight(month_start, tz), _midnight(day + timedelta(days=1), tz)))
    day_money, month_money = fig.get(("money", periods), lambda: verified_money(session=s, periods=list(periods)))
    return Digest(
        manager_id=person.id, manager=person.name, timezone=tz_name, day=day, now=now, month_start=month_start,
        glance=glance, at_risk=risk, yesterday=Activity(**counts), partners=partners,
        problems=notes(Problem), leads=notes(Lead),
        money_yesterday=Money(billed=day_money.billed, paid=day_money.paid),
        money_month=Money(billed=month_money.billed, paid=month_money.paid),
        chart=fig.get(("chart", now), lambda: units_chart(session=s, now=now)),
        incidents=fig.get(("incidents", now), lambda: open_incident_lines(s, now)),
        open_problems=fig.get(("open problems", now), lambda: open_problem_lines(s, now)),
        open_leads=fig.get(("open leads", now), lambda: lead_lines(s, now, open_only=True)),
    )


def units_chart(*, session: Session, now: datetime) -> Chart | None:
    """Units by status for each live request: where every request stands, in one picture."""
    rows = units_by_request(session=session, now=now)
    if not rows:
        return None
    return Chart(
        title="Units by status, per request (soonest deadline first)",
        categories=[f"SR-{r.request_id}" for r in rows],
        series={"verified": [r.verified for r in rows], "done": [r.done for r in rows],
                "in progress": [r.in_progress for r in rows], "claimed": [r.claimed for r in rows],
                "open": [r.open for r in rows]},
    )


# -- rendering ------------------------------------------------------------------------------------

def _day(d: date | datetime, tz: ZoneInfo | None = None) -> str:
    if isinstance(d, datetime):
        d = d.astimezone(tz).date()
    return d.strftime("%a %d %b %Y")


def _takings(m: Money) -> str:
    return f"margin *{money(m.margin)}* (billed {money(m.billed)} − paid {money(m.paid)})"


def _partner_value(p: PartnerLine, tz: ZoneInfo) -> str:
    if p.agreement is AgreementState.SIGNED:
        agreement = f"agreement signed, valid until {_day(p.valid_until, tz)}"
    elif p.agreement is AgreementState.EXPIRING:
        agreement = f"⚠️ agreement expires {_day(p.valid_until, tz)}: ask them to sign again"
    else:
        agreement = "⚠️ agreement NOT signed: its people can't claim"
    moves = [f"{label} {n:,}" for label, n in (("took", p.taken), ("reported done", p.done),
                                               ("verified", p.verified), ("released", p.released)) if n]
    yesterday = f"yesterday {', '.join(moves)} units" if moves else "nothing yesterday"
    rate = f"{p.on_time / p.claims_verified:.0%} on time" if p.claims_verified else "no verified work yet"
    return (f"{agreement}\n{yesterday}\nso far {plural(p.units_verified, 'unit')} verified, {rate}, "
            f"{p.rework} rework, {plural(p.releases, 'claim')} given back whole, {plural(p.leads, 'lead')} handed back")


def _notes(notes: list[Note], tz: ZoneInfo) -> str:
    return "\n".join(f"• SR-{n.request_id} · {n.person} ({n.org}), {n.at.astimezone(tz):%H:%M}: {n.text}"
                     for n in notes) or "None."


def render_digest(d: Digest) -> Reply:
    tz, g, y = d.tz, d.glance, d.yesterday
    done_share = f"{(g.done + g.verified) / g.total:.0%}" if g.total else "0%"
    lines = [
        f"*{g.open:,} open · {g.claimed:,} claimed · {g.in_progress:,} in progress · {g.done:,} done · "
        f"{g.verified:,} verified* (units)",
        f"{progress_bar(g.done + g.verified, g.total)} {done_share} reported done or verified",
        (f"⚠️ *{plural(g.at_risk, 'unit')} at risk* (due within {AT_RISK_HOURS} h): "
         f"{g.risk_unclaimed:,} unclaimed, {g.risk_not_started:,} claimed but not started")
        if g.at_risk else f"Nothing at risk in the next {AT_RISK_HOURS} h.",
        f"Yesterday {_takings(d.money_yesterday)}",
        f"{d.month_start:%B} to date {_takings(d.money_month)}",
    ]
    fields = []
    if d.at_risk:
        fields.append(Fact(label=f"At risk · due within {AT_RISK_HOURS} h", value="\n".join(
            f"• SR-{r.request_id} · {r.title}: {r.unclaimed:,} unclaimed, {r.not_started:,} not started, "
            f"due {when(r.deadline, tz)}" for r in d.at_risk)))
    fields.append(Fact(label=f"Yesterday · {_day(d.yesterday_day)}", value=(
        f"{plural(y.posted, 'request')} posted ({plural(y.units_posted, 'unit')})\n"
        f"{plural(y.taken, 'claim')} taken ({plural(y.units_taken, 'unit')})\n"
        f"{plural(y.done, 'completion')} reported ({plural(y.units_done, 'unit')})\n"
        f"{plural(y.verified, 'verification')} ({plural(y.units_verified, 'unit')})\n"
        f"{plural(y.released, 'release')} ({plural(y.units_released, 'unit')}), {y.sent_back:,} sent back\n"
        f"{plural(y.problems, 'problem')}, {plural(y.leads, 'lead')}, {plural(y.signed, 'agreement')} signed")))
    fields.append(Fact(label="Money", value=(
        f"Yesterday: {_takings(d.money_yesterday)}\n"
        f"{d.month_start:%d %b}–{d.day:%d %b}: {_takings(d.money_month)}")))
    fields += [Fact(label=f"{p.name} · {p.status}", value=_partner_value(p, tz)) for p in d.partners]
    fields.append(Fact(label="Problems yesterday", value=_notes(d.problems, tz)))
    fields.append(Fact(label="Leads yesterday", value=_notes(d.leads, tz)))
    if d.incidents:
        fields.append(Fact(label="Open incidents", value="\n".join(f"• {i}" for i in d.incidents)))
    if d.open_problems:
        fields.append(Fact(label=f"Open problems ({len(d.open_problems)})", value=folded(d.open_problems, "problems")))
    if d.open_leads:
        fields.append(Fact(label=f"Leads to follow up ({len(d.open_leads)})", value=folded(d.open_leads, "leads")))
    warn = g.at_risk or d.problems or any(p.agreement is not AgreementState.SIGNED for p in d.partners)
    # Private: the problems and leads are the techs' words from the customer's site, and the money is
    # the home MSP's own (bill rates, margins).
    return Reply(title=f"Surge digest · {_day(d.day)}", text="\n".join(lines), fields=fields,
                 tone=Tone.WARNING if warn else Tone.INFO, chart=d.chart, private=True)


def digest_for(*, session: Session, manager_id: int, day: date, now: datetime,
               shared: SharedFigures | None = None) -> Reply:
    """The digest as a `Reply`: what the scheduler sends at 08:00 and what `surge digest` prints."""
    d = build_digest(session=session, manager_id=manager_id, day=day, now=now, shared=shared)
    return add_projections(render_digest(d), session=session, now=now, tz=d.tz)  # requests projected short


def digest_text(core, *, manager: str | None, day: date | None, now: datetime) -> list[Reply]:
    """For `surge digest`: one manager's digest (by roster name) or every manager's, for `day` or
    each manager's own today. A name that is not a manager's raises `LookupError`."""
    now = now.astimezone(UTC)
    with core.db.session() as s:
        people = s.exec(select(Person).order_by(Person.name)).all()
        if manager:
            people = [p for p in people if p.name.lower() == manager.strip().lower()]
        managers = [p for p in people if p.has(Role.MANAGER)]
        if not managers:
            raise LookupError(f"{manager!r} is not a manager on the roster" if manager else "no managers on the roster")
        replies, shared = [], SharedFigures()
        for p in managers:
            _, tz_name = manager_zone(s, p.id)
            local_day = day or now.astimezone(ZoneInfo(tz_name)).date()
            replies.append(digest_for(session=s, manager_id=p.id, day=local_day, now=now, shared=shared))
        return replies


# -- the chat command -----------------------------------------------------------------------------

class ShowDigest(BaseModel):
    date: datetime | None = None  # naive, in the sender's time zone; only the day counts


@command("digest", summary="the daily digest: units, yesterday, partners, problems, leads, money",
         usage="digest [date=YYYY-MM-DD]", example="digest", roles={Role.MANAGER}, who="managers",
         opts={"date": Opt(Kind.DATE)})
def digest(cmd: ShowDigest, ctx: Context) -> Reply:
    s = session_of(ctx)
    _, tz_name = manager_zone(s, ctx.actor.person_id)
    today = ctx.now.astimezone(ZoneInfo(tz_name)).date()
    day = cmd.date.date() if cmd.date else today
    if day > today:
        raise UsageError(f"{_day(day)} hasn't come yet; a digest covers the day before it.",
                         example=f"digest date={today.isoformat()}")
    return digest_for(session=s, manager_id=ctx.actor.person_id, day=day, now=ctx.now)
