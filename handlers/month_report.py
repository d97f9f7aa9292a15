"""The month report: on the first day of a month at 08:00 in their time zone, each manager gets last
month's figures and each partner admin last month's statement, exactly once (the clock records a key
per person and month, like the digest's). One missed at 08:00 on the 1st (no scheduler ran then) is
sent at the first tick after it, any day of that month; the same key keeps it to once.

Every figure is the books' (`models.books.month_lines`): units × the rates each claim kept. Billed is
what customers are billed for the month (by the month of the verification), paid what is owed for it
(a month already settled keeps its lines, like the statement); margin is billed − paid, as in the
digest. The partners' share is their verified units over all verified units (in-house work too).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from handlers.books import ShowStatement, month_label, statement
from handlers.common import money, plural, reader_zone
from handlers.types import (
    Actor,
    Audience,
    Chart,
    Context,
    Fact,
    Identity,
    Message,
    Reply,
)
from models.books import Line, month_bounds, month_lines
from models.ledger import Dispute
from models.tables import (
    AuditEntry,
    Claim,
    Incident,
    Org,
    OrgKind,
    Person,
    Role,
    SurgeRequest,
    pk,
)

REPORT_AT = time(8, 0)


def previous_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year - (mon == 1):04d}-{(mon - 2) % 12 + 1:02d}"


@dataclass
class Tally:
    units: int = 0
    paid: int = 0
    billed: int = 0
    claims: int = 0  # verified claims (work, not credits or expenses)
    on_time: int = 0  # of those, reported done by the request's deadline

    @property
    def margin(self) -> int:
        return self.billed - self.paid


@dataclass
class MonthFigures:
    month: str
    total: Tally = field(default_factory=Tally)
    partners: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    customers: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    partner_units: int = 0
    incidents: int = 0
    disputes: int = 0
    disputes_resolved: int = 0
    leads_won: int = 0
    leads_value: int = 0


def month_figures(*, session: Session, month: str, tz: ZoneInfo) -> MonthFigures:
    s, fig = session, MonthFigures(month=month)
    partner_ids = set(s.exec(select(Org.id).where(Org.kind == OrgKind.PARTNER)).all())
    payables = month_lines(session=s, month=month, tz=tz)
    billing = month_lines(session=s, month=month, tz=tz, payables=False)
    done_by_deadline = _on_time(s, [x.claim_id for x in payables if x.kind == "work"])

    def tallies(x: Line) -> list[Tally]:
        return [fig.total, fig.customers[x.customer]] + ([fig.partners[x.partner]] if x.org_id in partner_ids else [])

    for x in payables:
        for t in tallies(x):
            t.paid += x.owed
            if x.kind == "work":
                t.claims += 1
                t.on_time += done_by_deadline.get(x.claim_id, False)
    for x in billing:
        for t in tallies(x):
            t.billed += x.billed
            t.units += x.units if x.kind != "expense" else 0
        if x.kind != "expense" and x.org_id in partner_ids:
            fig.partner_units += x.units
    start, end = month_bounds(month, tz)
    fig.incidents = len(s.exec(select(Incident.id).where(Incident.at >= start, Incident.at < end)).all())
    raised = s.exec(select(Dispute).where(Dispute.at >= start, Dispute.at < end)).all()
    fig.disputes, fig.disputes_resolved = len(raised), sum(d.resolved_at is not None for d in raised)
    fig.leads_won, fig.leads_value = _leads_won(s, start, end)
    return fig


def _on_time(s: Session, claim_ids: list[int]) -> dict[int, bool]:
    if not claim_ids:
        return {}
    rows = s.exec(select(Claim.id, Claim.done_at, SurgeRequest.deadline).join(
        SurgeRequest, col(SurgeRequest.id) == col(Claim.request_id)).where(col(Claim.id).in_(claim_ids))).all()
    return {cid: done is not None and done <= deadline for cid, done, deadline in rows if cid is not None}


def _leads_won(s: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """Leads whose last change of state in the month made them won, and what they are worth."""
    last: dict[str, dict] = {}
    for entry in s.exec(select(AuditEntry).where(
            col(AuditEntry.action) == "lead.status", col(AuditEntry.at) >= start, col(AuditEntry.at) < end,
    ).order_by(col(AuditEntry.at), col(AuditEntry.id))).all():
        last[str(entry.detail.get("lead"))] = entry.detail
    won = [d for d in last.values() if d.get("state") == "won"]
    return len(won), sum(int(d.get("value_cents") or 0) for d in won)


def _rate(t: Tally) -> str:
    return f"{t.on_time / t.claims:.0%} on time ({t.on_time} of {plural(t.claims, 'claim')})" if t.claims \
        else "no verified claims"


def _line(t: Tally) -> str:
    return (f"{plural(t.units, 'unit')} · billed {money(t.billed)} · paid {money(t.paid)} · "
            f"margin {money(t.margin)}")


def render_month_report(fig: MonthFigures) -> Reply:
    t = fig.total
    share = f"{fig.partner_units / t.units:.0%}" if t.units else "none"
    text = (f"Margin {money(t.margin)}: billed {money(t.billed)}, paid {money(t.paid)}. "
            f"Partners did {share} of the work ({fig.partner_units:,} of {plural(t.units, 'verified unit')}); "
            f"{_rate(t)}.")
    fields = [
        Fact(label="Per partner", value="\n".join(f"• {name}: {_line(p)}, {_rate(p)}"
                                                   for name, p in sorted(fig.partners.items())) or "No partner work."),
        Fact(label="Per customer", value="\n".join(f"• {name}: {_line(c)}"
                                                    for name, c in sorted(fig.customers.items())) or "No work billed."),
        Fact(label="Incidents, disputes, leads", value=(
            f"{plural(fig.incidents, 'incident')} recorded · {plural(fig.disputes, 'dispute')} raised "
            f"({fig.disputes_resolved:,} resolved) · {plural(fig.leads_won, 'lead')} won"
            + (f", worth {money(fig.leads_value)}" if fig.leads_value else ""))),
    ]
    return Reply(title=f"Month report · {month_label(fig.month)}", text=text, fields=fields, chart=_chart(fig))


def _chart(fig: MonthFigures) -> Chart | None:
    """Per partner, two bars side by side: paid and billed, in whole dollars."""
    if not fig.partners:
        return None
    names = sorted(fig.partners)
    categories = [f"{n} {what}" for n in names for what in ("paid", "billed")]
    paid = [v for n in names for v in (fig.partners[n].paid // 100, 0)]
    billed = [v for n in names for v in (0, fig.partners[n].billed // 100)]
    return Chart(title=f"Paid and billed per partner, {month_label(fig.month)} ($)", categories=categories,
                 series={"paid": paid, "billed": billed}, unit="$")


def month_report(*, session: Session, month: str, tz: ZoneInfo) -> Reply:
    """What a manager is sent on the 1st and what `surge report --month` prints."""
    return render_month_report(month_figures(session=session, month=month, tz=tz))


# -- what the clock sends -----------------------------------------------------------------------

def report_due(local: datetime) -> bool:
    """Has this month's report (of last month) come, at this local time? From 08:00 on the 1st to the
    month's end: a tick missed on the 1st is caught up later in the month."""
    return local.day > 1 or local.time() >= REPORT_AT


def month_reports_due(s: Session, now: datetime, home_tz: str) -> Iterator[tuple[str, Callable[[Session], Reply]]]:
    """(key, build) for each manager and partner admin whose 1st of the month, 08:00, has come this
    month (the key says whether it was sent). A month in which nothing happened (before Surge was in
    use) is not reported."""
    active: dict[tuple[str, str], bool] = {}
    for person in s.exec(select(Person).where(col(Person.active)).order_by(col(Person.id))).all():
        is_manager, is_admin = Role.MANAGER in person.roles, Role.PARTNER_ADMIN in person.roles
        if not (is_manager or is_admin):
            continue
        tz_name = reader_zone(s, person, home_tz)
        local = now.astimezone(ZoneInfo(tz_name))
        if not report_due(local):
            continue
        month = previous_month(local.strftime("%Y-%m"))
        if (month, tz_name) not in active:
            active[month, tz_name] = _anything_happened(s, month, ZoneInfo(tz_name))
        if not active[month, tz_name]:
            continue
        if is_manager:
            yield f"month-report:{person.id}:{month}", _manager_build(pk(person), month, tz_name)
        if is_admin:
            yield f"month-statement:{person.id}:{month}", _admin_build(pk(person), month, tz_name, now, home_tz)


def _anything_happened(s: Session, month: str, tz: ZoneInfo) -> bool:
    """Anything recorded in the month besides the clock's own sends (one indexed look)."""
    start, end = month_bounds(month, tz)
    return s.exec(select(AuditEntry.id).where(AuditEntry.at >= start, AuditEntry.at < end,
                                              AuditEntry.action != "clock.sent").limit(1)).first() is not None


def _manager_build(pid: int, month: str, tz_name: str) -> Callable[[Session], Reply]:
    def build(s: Session) -> Reply:
        r = month_report(session=s, month=month, tz=ZoneInfo(tz_name))
        return Reply(text="", messages=[Message(audience=Audience.DM, person_id=pid, title=r.title, text=r.text,
                                                fields=r.fields, chart=r.chart, private=True)])
    return build


def _admin_build(pid: int, month: str, tz_name: str, now: datetime, home_tz: str) -> Callable[[Session], Reply]:
    def build(s: Session) -> Reply:
        person = s.get_one(Person, pid)
        org = s.get_one(Org, person.org_id)
        actor = Actor(identity=Identity(platform="clock", user_id=person.name), person_id=pid, name=person.name,
                      org_id=org.id, org_name=org.name, roles=frozenset({Role.PARTNER_ADMIN}), timezone=tz_name,
                      home_timezone=home_tz)
        r = statement(ShowStatement(month=month), Context(session=s, actor=actor, now=now, home_timezone=home_tz))
        return Reply(text="", messages=[Message(audience=Audience.DM, person_id=pid, title=r.title, text=r.text,
                                                fields=r.fields)])
    return build
