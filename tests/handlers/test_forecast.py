"""Forecast-driven widening, with a controllable clock and known claim histories: a request claimed
too slowly to fill by its deadline is offered to the next tier before its tier delay, once per tier
step, never past the top tier; the digest shows what is projected short."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from handlers.clock import run_due
from handlers.core import Surge
from handlers.forecast import project
from models.db import Database
from models.tables import AuditEntry, OutboxMessage, SurgeRequest

TITLE = "DST patch, Main St office"
DUE = "Tue 02 Mar 2027 17:00 EST"  # 2027-03-02T22:00Z, 32 h after the post


@pytest.fixture
def posted(chat):
    """SR-1: 40 units due in 32 h, offered to tier 1 with a 10-hour tier delay; Tom may claim."""
    chat.ok("Paula Admin", 'sign "Paula Admin"')
    chat.ok("Tom Tech", "guidelines ack")
    return post(chat)


def post(chat, extra: str = ""):
    chat.ok("Dana Dispatch", f'request "{TITLE}" units=40 deadline=2027-03-02 pay=35 bill=60 minutes=30 '
            f'town=Hicksville customer="Acme Dental" delay=600 {extra}')
    return chat


def run(chat, clock, **advance) -> list[str]:
    """The clock's widening keys at the fixture clock advanced by `advance`."""
    now = clock.advance(**advance)
    return [k for k in run_due(chat.core.db, now, home_timezone="America/New_York")
            if k.startswith(("widen", "forecast"))]


def tier(chat, rid: int = 1) -> int:
    with chat.core.db.session() as s:
        return s.get(SurgeRequest, rid).visible_tier


def forecasts(db) -> list[str]:
    with db.session() as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "message").order_by(OutboxMessage.id)).all()
    return [r.payload["text"] for r in rows if r.payload["text"].startswith("📉")]


def test_the_projection_is_the_pace_so_far_going_on():
    posted_at = datetime(2027, 3, 1, 14, tzinfo=UTC)
    req = SurgeRequest(id=1, title=TITLE, units=40, units_taken=4, created_at=posted_at, created_by_id=1,
                       deadline=posted_at + timedelta(hours=32))
    assert project(req, posted_at + timedelta(minutes=29)) is None  # too soon to judge
    p = project(req, posted_at + timedelta(hours=1))
    assert (p.more, p.short) == (124, 0)  # 4 an hour for 31 more hours
    req.units_taken = 1
    assert project(req, posted_at + timedelta(hours=1)).short == 8  # 1 + 31 of 40
    # just widened: the new tier gets its own 30 minutes before it is judged
    assert project(req, posted_at + timedelta(hours=2), posted_at + timedelta(hours=1, minutes=45)) is None


def test_a_request_claimed_fast_enough_is_not_widened_early(posted, clock):
    posted.ok("Tom Tech", "claim SR-1 5")
    assert run(posted, clock, minutes=60) == []  # 5 an hour: 155 more by the deadline
    assert run(posted, clock, hours=1) == []  # 2.5 an hour: 75 more
    assert tier(posted) == 1
    # the timer stays the floor: after its 10-hour delay it widens as it always did, and the forecast
    # (by now short: 5 in 10 h) leaves the freshly widened request alone
    assert run(posted, clock, hours=8, minutes=1) == ["widen:1:2"]
    assert forecasts(posted.core.db) == []


def test_a_request_claimed_too_slowly_is_widened_before_its_tier_delay(posted, clock):
    posted.ok("Tom Tech", "claim SR-1 1")
    assert run(posted, clock, minutes=29) == []  # a request posted 29 minutes ago is not judged
    assert run(posted, clock, minutes=31) == ["forecast:1:2"]  # 1 an hour: 31 more, 8 short
    assert tier(posted) == 2
    [text] = forecasts(posted.core.db)
    assert text == (f"📉 SR-1 · {TITLE}: 1 unit claimed since it was posted. At this rate 8 of 40 units "
                    f"will be left on {DUE}; offered to tier 2 now.")
    [note] = posted.messages_to("dispatch")[-1:]
    assert note["text"] == text and note["request_id"] == 1
    with posted.core.db.session() as s:
        audit = s.exec(select(AuditEntry).where(AuditEntry.request_id == 1).order_by(AuditEntry.id)).all()
    assert [a.action for a in audit][-2:] == ["request.widened", "request.forecast_widened"]
    assert audit[-1].units == 8 and audit[-1].detail["projected_more"] == 31
    cards = [m.payload["change"] for m in posted.outbox() if m.kind == "card"]
    assert cards[-2:] == ["post", "update"]  # the cards go to the tier-2 channel, every copy updated
    offered = {f.label: f.value for f in posted.ok("Dana Dispatch", "status SR-1").fields}["Offered to"]
    assert offered == "tier 1–2 partners"


def test_a_request_nobody_claims_is_widened_once_the_evidence_window_passes(posted, clock):
    assert run(posted, clock, minutes=1) == []
    assert run(posted, clock, minutes=28) == []
    assert run(posted, clock, minutes=1) == ["forecast:1:2"]  # 30 minutes, 0 claimed: 0 more
    [text] = forecasts(posted.core.db)
    assert "0 units claimed since it was posted. At this rate 40 of 40 units will be left" in text


def test_widened_exactly_once_across_calls_and_two_instances(posted, clock, db_url):
    other = Surge(Database(db_url), home_timezone="America/New_York", clock=clock)
    now = clock.advance(minutes=45)
    barrier, results = threading.Barrier(2), []

    def scheduler(core):
        barrier.wait()
        results.append(run_due(core.db, now, home_timezone="America/New_York"))

    threads = [threading.Thread(target=scheduler, args=(core,)) for core in (posted.core, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    again = run_due(other.db, now, home_timezone="America/New_York") + run_due(posted.core.db, now)
    keys = [k for r in results + [again] for k in r if k.startswith("forecast")]
    assert keys == ["forecast:1:2"]
    assert len(forecasts(posted.core.db)) == 1 and tier(posted) == 2
    with other.db.session() as s:
        widened = s.exec(select(AuditEntry).where(AuditEntry.action == "request.widened")).all()
    assert len(widened) == 1
    other.db.dispose()


def test_never_widened_past_the_top_tier_nor_when_full_or_closed(chat, clock):
    chat.ok("Paula Admin", 'sign "Paula Admin"')
    chat.ok("Tom Tech", "guidelines ack")
    post(chat)  # SR-1: nobody claims, widened to tier 2 (the top: partners and channels end there)
    post(chat, "tier=2")  # SR-2: offered to the top tier from the start
    post(chat)  # SR-3: filled at once
    post(chat)  # SR-4: cancelled
    chat.ok("Tom Tech", "claim SR-3")
    chat.ok("Dana Dispatch", "cancel SR-4")
    assert run(chat, clock, minutes=30) == ["forecast:1:2"]
    assert run(chat, clock, minutes=31) == []  # SR-1 at tier 2, judged again: still short, no tier 3
    assert run(chat, clock, hours=3) == []
    assert [tier(chat, rid) for rid in (1, 2, 3, 4)] == [2, 2, 1, 1]
    assert len(forecasts(chat.core.db)) == 1


def test_the_digest_shows_requests_projected_short(posted, clock):
    post(posted)  # SR-2
    posted.ok("Tom Tech", "claim SR-1 1")
    posted.ok("Tom Tech", "claim SR-2 10")
    clock.advance(hours=1)
    fields = {f.label: f.value for f in posted.ok("Morgan Manager", "digest").fields}
    assert fields["Projected short at this rate (1)"] == (
        f"• SR-1 · {TITLE}: 1 of 40 claimed; at this rate 8 left on {DUE} (offered to tier 1)")
    labels = [label.split(" · ")[0] for label in fields]
    assert labels.index("Projected short at this rate (1)") == labels.index("Yesterday") - 1
