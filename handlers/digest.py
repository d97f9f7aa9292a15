"""The manager's digest: the surge at a glance, late and due work, the day's activity, partners,
problems, disputes, incidents and leads, money per partner and per customer, and a chart.

Two shapes of the same digest. `digest` asked in chat is **today so far plus yesterday**; the one the
clock sends at 08:00 (`scheduled`) is **yesterday plus what is due today**. Days and the month run
midnight to midnight in the manager's own time zone: the month to date is the 1st of the day's month
through the end of the day itself (so today's verified work counts); the glance, the risk and late
work are as of `now`. Cancelled requests count nowhere. `build_digest` computes the figures (fixed
sets of SQL aggregates, `models.digest_queries` and `models.queries`); `handlers.digest_sections`
renders them for any chat platform.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlmodel import Session, select

from handlers.common import session as session_of
from handlers.contracts import current_agreement
from handlers.digest_figures import (
    CHART_BARS,
    Activity,
    AgreementState,
    AtRisk,
    Glance,
    Money,
    Note,
    PartnerLine,
    Requests,
    SharedFigures,
    Unshared,
    activity_of,
    midnight,
    money_of,
    requests,
    units_chart,
)
from handlers.digest_sections import SHOWN, day_words, open_lists, render_digest
from handlers.errors import NotFound, UsageError
from handlers.forecast import projection_fact
from handlers.grammar import Kind, Opt
from handlers.registry import command
from handlers.types import Chart, Context, Reply
from models.digest_queries import (
    Payable,
    activity,
    on_time_by_org,
    partner_activity,
    payables_due,
    takings,
)
from models.queries import (
    at_risk_requests,
    field_notes,
    signature_expiries,
    surge_units,
    track_records,
)
from models.tables import Lead, Org, OrgKind, Person, Problem, Role

__all__ = ["AgreementState", "Digest", "SharedFigures", "build_digest", "digest_for", "digest_text", "manager_zone"]
EXPIRY_WARNING = timedelta(days=30)
RISK_COUNTED = 500  # requests at risk read (the digest shows five and counts the rest)


class Digest(BaseModel):
    manager_id: int
    manager: str
    timezone: str
    day: date
    now: datetime
    scheduled: bool  # the 08:00 one: yesterday plus what is due today; else today so far plus yesterday
    month_start: date  # the month to date runs from here to the end of `day`
    glance: Glance
    at_risk: list[AtRisk]
    late: Requests  # deadline passed, units not verified (expired requests too), until someone acts
    due_today: Requests | None = None  # scheduled only: due later today (what is already due is late)
    today: Activity | None = None  # asked in chat only: the day so far
    yesterday: Activity
    partners: list[PartnerLine]
    problems: list[Note]  # reported yesterday
    leads: list[Note]
    money_today: Money | None = None
    money_yesterday: Money
    money_month: Money
    chart: Chart | None = None
    incidents: list[str] = []  # open incidents against partners, with their age and response
    open_problems: list[str] = []  # problems not yet resolved, oldest first, with their age
    open_disputes: list[str] = []
    open_leads: list[str] = []  # leads new or contacted, newest first, with their state
    suspended: list[str] = []  # suspended partners' open claims
    payables: list[Payable] = []  # unpaid and overdue, or due within the week, per partner

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


def _glance(s: Session, now: datetime, late: Requests) -> Glance:
    u = surge_units(session=s, now=now)
    return Glance(open=u.open, claimed=u.claimed, in_progress=u.in_progress, done=u.done, verified=u.verified,
                  risk_unclaimed=u.risk_unclaimed, risk_not_started=u.risk_not_started,
                  late_units=late.units, late_requests=late.total)


def _partners(s: Session, fig: SharedFigures, now: datetime, start: datetime, end: datetime) -> list[PartnerLine]:
    def expiries_now() -> dict[int, datetime]:
        ag = current_agreement(s)
        return signature_expiries(session=s, agreement_id=ag.id, now=now) if ag and ag.id is not None else {}

    expiries = fig.get(("expiries", now), expiries_now)
    records = fig.get(("track records", now), lambda: track_records(session=s))
    on_time = fig.get(("on time", now), lambda: on_time_by_org(session=s, now=now))
    days = fig.get(("partner activity", start, end), lambda: partner_activity(session=s, start=start, end=end))
    orgs = fig.get(("partners", now), lambda: [(o.id, o.name, o.status) for o in s.exec(
        select(Org).where(Org.kind == OrgKind.PARTNER).order_by(Org.name)).all()])
    out = []
    for org_id, name, status in orgs:
        until = expiries.get(org_id)
        state = (AgreementState.MISSING if until is None
                 else AgreementState.EXPIRING if until <= now + EXPIRY_WARNING else AgreementState.SIGNED)
        rec, (taken, done, verified, released) = records[org_id], days.get(org_id, (0, 0, 0, 0))
        ot = on_time.get(org_id)
        out.append(PartnerLine(
            org_id=org_id, name=name, status=status, agreement=state, valid_until=until, taken=taken, done=done,
            verified=verified, released=released, units_verified=rec.units_verified,
            claims_verified=rec.claims_verified, on_time=ot.on_time if ot else 0, due=ot.due if ot else 0,
            rework=rec.rework, releases=rec.releases, leads=rec.leads,
        ))
    return out


def build_digest(*, session: Session, manager_id: int, day: date, now: datetime,
                 shared: SharedFigures | None = None, scheduled: bool = True) -> Digest:
    s, fig = session, shared or Unshared()
    person, tz_name = manager_zone(s, manager_id)
    tz = ZoneInfo(tz_name)
    today, tomorrow = midnight(day, tz), midnight(day + timedelta(days=1), tz)
    start, month_start = midnight(day - timedelta(days=1), tz), day.replace(day=1)
    late = fig.get(("late", now), lambda: requests(s, now, late=True, limit=SHOWN))
    live = fig.get(("live", now), lambda: requests(s, now, live=True, late=True, limit=CHART_BARS))

    def day_activity(a: datetime, b: datetime) -> Activity:
        return activity_of(fig.get(("activity", a, b), lambda: activity(session=s, start=a, end=b)))

    so_far = min(now + timedelta(microseconds=1), tomorrow)  # "so far" counts what happened at this instant too
    periods = [(start, today), (midnight(month_start, tz), tomorrow), (today, so_far)]
    yesterday_money, month_money, today_money = (money_of(t) for t in fig.get(
        ("money", *periods), lambda: takings(session=s, periods=periods)))
    lists = fig.get(("lists", now, tz_name), lambda: open_lists(s, now, tz))

    def notes(kind) -> list[Note]:
        rows = fig.get(("notes", kind.__name__, start, today),
                       lambda: field_notes(session=s, kind=kind, start=start, end=today))
        return [Note(at=n.at, text=n.text, person=n.person, org=n.org, request_id=n.request_id) for n in rows]

    return Digest(
        manager_id=manager_id, manager=person.name, timezone=tz_name, day=day, now=now, scheduled=scheduled,
        month_start=month_start, glance=fig.get(("glance", now), lambda: _glance(s, now, late)),
        at_risk=[AtRisk(request_id=r.request_id, title=r.title, deadline=r.deadline, unclaimed=r.unclaimed,
                        not_started=r.not_started)
                 for r in fig.get(("risk", now), lambda: at_risk_requests(session=s, now=now, limit=RISK_COUNTED))],
        late=late, yesterday=day_activity(start, today), partners=_partners(s, fig, now, start, today),
        problems=notes(Problem), leads=notes(Lead),
        money_yesterday=yesterday_money, money_month=month_money,
        chart=fig.get(("chart", now, tz_name), lambda: units_chart(live, now, tz)),
        today=None if scheduled else day_activity(today, so_far),
        money_today=None if scheduled else today_money,
        due_today=fig.get(("due", today, tomorrow, now), lambda: requests(s, now, due=(max(today, now), tomorrow), limit=SHOWN))
        if scheduled else None,
        incidents=lists["incidents"], open_problems=lists["open_problems"], open_disputes=lists["open_disputes"],
        open_leads=lists["open_leads"], suspended=lists["suspended"],
        payables=fig.get(("payables", now), lambda: payables_due(session=s, now=now)),
    )


def digest_for(*, session: Session, manager_id: int, day: date, now: datetime,
               shared: SharedFigures | None = None, scheduled: bool = True) -> Reply:
    """The digest as a `Reply`: the 08:00 one the scheduler sends (`scheduled`), or the one asked for."""
    d = build_digest(session=session, manager_id=manager_id, day=day, now=now, shared=shared, scheduled=scheduled)
    return render_digest(d, projected=projection_fact(session=session, now=now, tz=d.tz))


def digest_text(core, *, manager: str | None, day: date | None, now: datetime) -> list[Reply]:
    """For `surge digest`: one manager's digest (by roster name) or every manager's, for `day` or
    each manager's own today, as the chat command shows it. A name that is not a manager's raises
    `LookupError`."""
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
            replies.append(digest_for(session=s, manager_id=p.id, day=local_day, now=now, shared=shared,
                                      scheduled=False))
        return replies


# -- the chat command -----------------------------------------------------------------------------

class ShowDigest(BaseModel):
    date: datetime | None = None  # naive, in the sender's time zone; only the day counts


@command("digest", summary="the digest: today so far and yesterday, late work, partners, problems, leads, money",
         usage="digest [date=YYYY-MM-DD]", example="digest", roles={Role.MANAGER}, who="managers",
         opts={"date": Opt(Kind.DATE)})
def digest(cmd: ShowDigest, ctx: Context) -> Reply:
    s = session_of(ctx)
    _, tz_name = manager_zone(s, ctx.actor.pid)
    today = ctx.now.astimezone(ZoneInfo(tz_name)).date()
    day = cmd.date.date() if cmd.date else today
    if day > today:
        raise UsageError(f"{day_words(day)} hasn't come yet; a digest covers the day before it.",
                         example=f"digest date={today.isoformat()}")
    return digest_for(session=s, manager_id=ctx.actor.pid, day=day, now=ctx.now, scheduled=False)
