"""The digest's figures as typed values, and the pieces `handlers.digest.build_digest` computes them
with: requests by where their units stand, activity from the audit log, money per partner and per
customer, and the chart. Cancelled requests count nowhere.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, computed_field
from sqlmodel import Session

from handlers.types import Chart
from models.digest_queries import RequestState, Takings, request_states

CHART_BARS = 20  # the soonest deadlines; a picture of 200 bars reads as nothing


class Glance(BaseModel):
    open: int
    claimed: int
    in_progress: int
    done: int
    verified: int
    risk_unclaimed: int
    risk_not_started: int
    late_units: int = 0  # units not verified on requests whose deadline has passed (expired ones too)
    late_requests: int = 0

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
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


class RequestLine(BaseModel):
    """A request's units by where they stand (late work, what is due today, a chart bar)."""

    request_id: int
    title: str
    deadline: datetime
    expired: bool
    units: int
    open: int
    claimed: int
    in_progress: int
    done: int
    verified: int

    @property
    def unverified(self) -> int:
        return self.units - self.verified

    @classmethod
    def of(cls, r: RequestState) -> RequestLine:
        return cls(request_id=r.request_id, title=r.title, deadline=r.deadline, expired=r.expired, units=r.units,
                   open=r.open, claimed=r.claimed, in_progress=r.in_progress, done=r.done, verified=r.verified)


class Requests(BaseModel):
    """The first requests of a list (soonest deadline first), how many there are and their units not verified."""

    shown: list[RequestLine] = []
    total: int = 0
    units: int = 0


def requests(s: Session, now: datetime, **which) -> Requests:
    rows, total, units = request_states(session=s, now=now, **which)
    return Requests(shown=[RequestLine.of(r) for r in rows], total=total, units=units)


class Activity(BaseModel):
    """A day (or the day so far), from the audit log: how many of each event, and the units they moved."""

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


def activity_of(tallies: dict) -> Activity:
    counts: dict[str, int] = {}
    for action, name in _ACTIONS.items():
        tally = tallies.get(action)
        counts[name], counts[f"units_{name}"] = (tally.count, tally.units) if tally else (0, 0)
    for action, name in _COUNTS.items():
        counts[name] = tallies[action].count if action in tallies else 0
    return Activity(**counts)


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
    on_time: int = 0  # claims reported done by their deadline, among those whose deadline has passed
    due: int = 0  # claims whose deadline has passed
    rework: int = 0
    releases: int = 0
    leads: int = 0


class Note(BaseModel):
    at: datetime
    text: str
    person: str
    org: str
    request_id: int


class MoneyLine(BaseModel):
    name: str
    billed: int
    paid: int

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def margin(self) -> int:
        return self.billed - self.paid


class Money(BaseModel):
    billed: int = 0  # cents: verified work at the claims' bill rates, dispute credits, approved expenses at cost
    paid: int = 0  # cents owed to partners for the same
    partners: list[MoneyLine] = []  # the same split per partner, largest margin first
    customers: list[MoneyLine] = []

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def margin(self) -> int:
        return self.billed - self.paid


def _split(by: dict[str, list[int]]) -> list[MoneyLine]:
    lines = [MoneyLine(name=name, billed=b, paid=p) for name, (b, p) in by.items()]
    return sorted(lines, key=lambda x: (-x.margin, x.name))


def money_of(t: Takings) -> Money:
    return Money(billed=t.billed, paid=t.paid, partners=_split(t.by_partner), customers=_split(t.by_customer))




def midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def short_day(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%a %d %b")


def units_chart(live: Requests, now: datetime, tz: ZoneInfo) -> Chart | None:
    """One bar per live or late request, soonest deadline first, each as the share of its units
    verified, done, in progress, claimed and open; late ones are marked."""
    rows = live.shown[:CHART_BARS]
    if not rows:
        return None
    shown = f"the {len(rows)} soonest deadlines of {live.total}" if live.total > len(rows) else "soonest deadline first"
    return Chart(
        title=f"Units by status, as a share of each request ({shown})",
        categories=[f"{'LATE · ' if r.deadline <= now else ''}SR-{r.request_id} · {_cut(r.title)} · "
                    f"due {short_day(r.deadline, tz)}" for r in rows],
        series={"verified": [r.verified for r in rows], "done": [r.done for r in rows],
                "in progress": [r.in_progress for r in rows], "claimed": [r.claimed for r in rows],
                "open": [r.open for r in rows]},
        unit="share of the request's units", horizontal=True, shares=True,
        marked=[i for i, r in enumerate(rows) if r.deadline <= now],
    )


def _cut(title: str, n: int = 32) -> str:
    return title if len(title) <= n else title[:n - 1] + "…"


class SharedFigures:
    """Figures that do not depend on the manager, computed by the first digest that needs them and
    reused by the next ones of the same run (one clock tick, one `surge digest`).

    As of `now` (the glance, the risk, the partners, their agreements and track records) they are the
    same for every manager; over a day or a month, or drawn in a time zone (the chart's due dates),
    they are the same for every manager whose midnights fall at the same instants (the same time zone,
    in effect), so they are kept per window. Only a run's own digests share them: they are as fresh as
    the run."""

    def __init__(self) -> None:
        self._figures: dict[tuple, object] = {}

    def get(self, key: tuple, compute):
        if key not in self._figures:
            self._figures[key] = compute()
        return self._figures[key]


class Unshared(SharedFigures):
    def get(self, key: tuple, compute):
        return compute()
