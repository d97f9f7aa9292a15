"""The digest rendered as a `Reply` for any chat platform: the headline, then one section per list.

Every list folds: the first few lines, then "…and 12 more: `list`" naming the command that shows
them all, and never more than `BUDGET` characters a section. So a digest of 200 live requests (or 200
open problems) keeps within Slack's limits (50 blocks, 3,000 characters a section) and Teams' (the
card under ~80 KB as sent) without anything cut mid-line.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlmodel import Session

from handlers.common import money, plural, when
from handlers.digest_figures import (
    Activity,
    AgreementState,
    Money,
    MoneyLine,
    PartnerLine,
    RequestLine,
    Requests,
    midnight,
)
from handlers.disputes import WORDS
from handlers.followups import lead_lines, open_problem_lines
from handlers.incidents import age, open_incident_lines
from handlers.types import Fact, Reply, Tone
from handlers.views import progress_bar
from models.digest_queries import open_disputes, suspended_open_claims
from models.queries import AT_RISK_HOURS

if TYPE_CHECKING:
    from handlers.digest import Digest

SHOWN = 5  # lines of a list before it folds
BUDGET = 1800  # characters of a section's lines (Slack: 3,000 a section, after escaping)
PARTNERS_SHOWN = 8  # partners with a section each; the rest fold into one line
OPEN = 200  # lines of an open list fetched (problems, disputes, incidents, leads, claims)
CLAIM_WORDS = {"pending": "waiting for approval", "active": "claimed, not started", "in_progress": "in progress",
               "done": "reported done, waiting for verification"}


def fold(lines: list[str], command: str, total: int | None = None) -> str:
    """The first `SHOWN` lines (fewer if they pass `BUDGET`), then how many more and the command that
    lists them all. `total` is how many there are when `lines` holds only the first of them."""
    total = len(lines) if total is None else total
    shown: list[str] = []
    used = 0
    for line in lines[:SHOWN]:
        if shown and used + len(line) > BUDGET:
            break
        shown.append(f"• {line}")
        used += len(line) + 3
    more = f"\n…and {total - len(shown):,} more: `{command}`" if total > len(shown) else ""
    return "\n".join(shown) + more


def day_words(d: date | datetime, tz: ZoneInfo | None = None) -> str:
    if isinstance(d, datetime):
        d = d.astimezone(tz).date()
    return d.strftime("%a %d %b %Y")


def _short(text: str, n: int = 120) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


# -- the open lists ---------------------------------------------------------------------------------

def open_lists(s: Session, now: datetime, tz: ZoneInfo) -> dict[str, list[str]]:
    """Open problems, disputes and incidents with their age, leads with their state, and suspended
    partners' open claims, as lines (each list oldest or most pressing first)."""
    disputes = [f"{d.ref} · SR-{d.request_id} · {_short(d.title, 60)}, {d.partner} disputes {WORDS[d.about]}, "
                f"{age(now, d.at)}: “{_short(d.text)}”" for d in open_disputes(session=s, limit=OPEN)]
    suspended = [f"{c.partner}: SR-{c.request_id} · {_short(c.title, 60)}, {c.person}, {plural(c.units, 'unit')} "
                 f"{CLAIM_WORDS.get(c.status, c.status)}, due {when(c.deadline, tz)}"
                 for c in suspended_open_claims(session=s, limit=OPEN)]
    return {"incidents": open_incident_lines(s, now, limit=OPEN), "open_problems": open_problem_lines(s, now, OPEN),
                "open_disputes": disputes, "open_leads": lead_lines(s, now, open_only=True, limit=OPEN),
                "suspended": suspended}


# -- sections -------------------------------------------------------------------------------------

def _takings(m: Money) -> str:
    return f"margin *{money(m.margin)}* (billed {money(m.billed)} − paid {money(m.paid)})"


def _money_line(x: MoneyLine) -> str:
    return f"{x.name}: margin {money(x.margin)} (billed {money(x.billed)} − paid {money(x.paid)})"


def _request_line(r: RequestLine, tz: ZoneInfo) -> str:
    parts = [f"{r.open:,} unclaimed" if r.open else "", f"{r.claimed:,} claimed, not started" if r.claimed else "",
             f"{r.in_progress:,} in progress" if r.in_progress else "",
             f"{r.done:,} done, waiting for verification" if r.done else ""]
    where = ", ".join(p for p in parts if p)
    expired = " · expired" if r.expired else ""
    return (f"SR-{r.request_id} · {_short(r.title, 80)}: {r.unverified:,} of {plural(r.units, 'unit')} not verified"
            + (f" ({where})" if where else "") + f", due {when(r.deadline, tz)}{expired}")


def _activity(a: Activity) -> str:
    return (f"{plural(a.posted, 'request')} posted ({plural(a.units_posted, 'unit')})\n"
            f"{plural(a.taken, 'claim')} taken ({plural(a.units_taken, 'unit')})\n"
            f"{plural(a.done, 'completion')} reported ({plural(a.units_done, 'unit')})\n"
            f"{plural(a.verified, 'verification')} ({plural(a.units_verified, 'unit')})\n"
            f"{plural(a.released, 'release')} ({plural(a.units_released, 'unit')}), {a.sent_back:,} sent back\n"
            f"{plural(a.problems, 'problem')}, {plural(a.leads, 'lead')}, {plural(a.signed, 'agreement')} signed")


def _partner_value(p: PartnerLine, tz: ZoneInfo) -> str:
    until = p.valid_until
    if p.agreement is AgreementState.SIGNED and until:
        agreement = f"agreement signed, valid until {day_words(until, tz)}"
    elif p.agreement is AgreementState.EXPIRING and until:
        agreement = f"⚠️ agreement expires {day_words(until, tz)}: ask them to sign again"
    else:
        agreement = "⚠️ agreement NOT signed: its people can't claim"
    moves = [f"{label} {n:,}" for label, n in (("took", p.taken), ("reported done", p.done),
                                               ("verified", p.verified), ("released", p.released)) if n]
    yesterday = f"yesterday {', '.join(moves)} units" if moves else "nothing yesterday"
    rate = (f"{p.on_time / p.due:.0%} on time ({p.on_time} of {plural(p.due, 'claim')} whose deadline has passed)"
            if p.due else "no deadline passed yet")
    return (f"{agreement}\n{yesterday}\nso far {plural(p.units_verified, 'unit')} verified, {rate}, "
            f"{p.rework} rework, {plural(p.releases, 'claim')} given back whole, {plural(p.leads, 'lead')} handed back")


def _requests_fact(label: str, rs: Requests, tz: ZoneInfo) -> Fact:
    return Fact(label=f"{label} ({rs.total:,})", value=fold([_request_line(r, tz) for r in rs.shown], "list", rs.total))


def _headline(d: Digest) -> str:
    g = d.glance
    done_share = f"{(g.done + g.verified) / g.total:.0%}" if g.total else "0%"
    lines = [(f"*{g.open:,} open · {g.claimed:,} claimed · {g.in_progress:,} in progress · {g.done:,} done · "
             f"{g.verified:,} verified* (units)"),
             f"{progress_bar(g.done + g.verified, g.total)} {done_share} reported done or verified"]
    if g.at_risk:
        lines.append(f"⚠️ *{plural(g.at_risk, 'unit')} at risk* (due within {AT_RISK_HOURS} h): "
                     f"{g.risk_unclaimed:,} unclaimed, {g.risk_not_started:,} claimed but not started")
    if g.late_units:
        lines.append(f"⚠️ *{plural(g.late_units, 'unit')} late* on {plural(g.late_requests, 'request')}: "
                     "deadline passed, not verified")
    if not g.at_risk and not g.late_units:
        lines.append(f"Nothing late, and nothing at risk in the next {AT_RISK_HOURS} h.")
    if d.money_today is not None:
        lines.append(f"{_today_words(d)} {_takings(d.money_today)}")
    lines += [f"Yesterday {_takings(d.money_yesterday)}", f"{d.month_start:%B} to date {_takings(d.money_month)}"]
    return "\n".join(lines)


def _today_words(d: Digest) -> str:
    """"Today so far" while the digest's day is running, else the day itself (a digest of a past date)."""
    return "Today so far" if d.now < midnight(d.day + timedelta(days=1), d.tz) else day_words(d.day)


def _work_sections(d: Digest, projected: Fact | None) -> list[Fact]:
    tz, fields = d.tz, []
    if d.at_risk:
        fields.append(Fact(label=f"At risk · due within {AT_RISK_HOURS} h", value=fold([
            f"SR-{r.request_id} · {_short(r.title, 80)}: {r.unclaimed:,} unclaimed, {r.not_started:,} not started, "
            f"due {when(r.deadline, tz)}" for r in d.at_risk], "list")))
    if d.late.total:
        fields.append(_requests_fact("Late · deadline passed, not verified", d.late, tz))
    if d.due_today is not None:
        fields.append(_requests_fact(f"Due today · {day_words(d.day)}", d.due_today, tz) if d.due_today.total
                      else Fact(label=f"Due today · {day_words(d.day)}", value="Nothing else is due today."))
    if d.today is not None:
        words = _today_words(d)
        label = f"{words} · {day_words(d.day)}" if words != day_words(d.day) else words
        fields.append(Fact(label=label, value=_activity(d.today)))
    if projected is not None:
        fields.append(projected)
    fields.append(Fact(label=f"Yesterday · {day_words(d.yesterday_day)}", value=_activity(d.yesterday)))
    return fields


def _money_sections(d: Digest) -> list[Fact]:
    month = f"{d.month_start:%d %b}–{d.day:%d %b}"  # the totals are in the glance; here, who they came from
    fields: list[Fact] = []
    if d.money_month.partners:
        fields.append(Fact(label=f"Margin per partner · {month}", value=fold(
            [_money_line(x) for x in d.money_month.partners], "statement")))
    if d.money_month.customers:
        fields.append(Fact(label=f"Margin per customer · {month}", value=fold(
            [_money_line(x) for x in d.money_month.customers], "billing")))
    return fields


def _payables(d: Digest) -> list[Fact]:
    if not d.payables:
        return []
    lines = [f"{p.partner}: " + ", ".join(part for part in (
        f"*{money(p.overdue)} overdue*" if p.overdue else "", f"{money(p.due_soon)} due within 7 days"
        if p.due_soon else "") if part) for p in d.payables]
    return [Fact(label=f"Owed to partners, not yet paid ({len(lines):,})", value=fold(lines, "statement"))]


def _people_sections(d: Digest) -> list[Fact]:
    shown = d.partners[:PARTNERS_SHOWN]
    fields = [Fact(label=f"{p.name} · {p.status}", value=_partner_value(p, d.tz)) for p in shown]
    if len(d.partners) > len(shown):
        fields.append(Fact(label="More partners", value=f"…and {len(d.partners) - len(shown):,} more: `partners`"))
    for label, lines, command in (("Suspended partners' open claims", d.suspended, "partners"),
                                  ("Open problems", d.open_problems, "problems"),
                                  ("Open disputes", d.open_disputes, "mine"),
                                  ("Open incidents", d.incidents, "partners"),
                                  ("Leads to follow up", d.open_leads, "leads")):
        if lines:  # (open incidents keep their plain label, as `partners` and the record name them)
            counted = label if label == "Open incidents" else f"{label} ({len(lines):,})"
            fields.append(Fact(label=counted, value=fold(lines, command)))
    return fields


def render_digest(d: Digest, projected: Fact | None = None) -> Reply:
    g = d.glance
    fields = _work_sections(d, projected) + _money_sections(d) + _payables(d) + _people_sections(d)
    warn = (g.at_risk or g.late_units or d.open_problems or d.open_disputes or d.suspended
            or any(p.overdue for p in d.payables)
            or any(p.agreement is not AgreementState.SIGNED for p in d.partners))
    # Private: the problems and leads are the techs' words from the customer's site, and the money is
    # the home MSP's own (bill rates, margins, customers).
    return Reply(title=f"Surge digest · {day_words(d.day)}", text=_headline(d), fields=fields,
                 tone=Tone.WARNING if warn else Tone.INFO, chart=d.chart, private=True)
