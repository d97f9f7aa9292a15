"""The clock, with a controllable time and no sleeping: digests at each manager's 08:00, exactly
once across schedulers and restarts; reminders at their thresholds; tier widening; the DST day."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from handlers.clock import run_due
from handlers.roster import load_roster
from models.tables import OutboxMessage, SurgeRequest
from tests.conftest import ROSTER

TOKYO = """  - name: Kenji Manager
    org: Long Island IT
    roles: [manager]
    timezone: Asia/Tokyo
"""


def sent(db, prefix: str = "") -> list[dict]:
    with db.session() as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "message").order_by(OutboxMessage.id)).all()
    return [r.payload for r in rows if r.payload["text"].startswith(prefix) or (r.payload.get("title") or "").startswith(prefix)]


def digests(db) -> list[dict]:
    return [m for m in sent(db) if (m.get("title") or "").startswith("Surge digest")]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_each_manager_gets_the_digest_at_their_own_0800(roster_db):
    load_roster(roster_db, ROSTER.read_text().replace("channels:\n", TOKYO + "channels:\n", 1))
    tz = "America/New_York"
    # 17:00 in New York: Morgan's digest of the day is caught up; 07:00 (Mar 2) in Tokyo: not yet
    assert run_due(roster_db, at("2027-03-01T22:00"), home_timezone=tz) == ["digest:2:2027-03-01"]
    assert run_due(roster_db, at("2027-03-01T22:59"), home_timezone=tz) == []   # 07:59 in Tokyo
    assert run_due(roster_db, at("2027-03-01T23:00"), home_timezone=tz) == ["digest:6:2027-03-02"]
    assert run_due(roster_db, at("2027-03-02T12:59"), home_timezone=tz) == []   # 07:59 in New York
    assert run_due(roster_db, at("2027-03-02T13:00"), home_timezone=tz) == ["digest:2:2027-03-02"]
    assert run_due(roster_db, at("2027-03-02T13:30"), home_timezone=tz) == []
    dms = digests(roster_db)
    assert [(m["audience"], m["person_id"]) for m in dms] == [
        ("dm", 2), ("managers", None), ("dm", 6), ("dm", 2), ("managers", None)]
    assert "Tue 02 Mar 2027" in dms[2]["title"] and "Mon 01 Mar 2027" in dms[0]["title"]


def test_two_schedulers_at_once_send_each_digest_and_reminder_once(ready, clock):
    ready.ok("Tom Tech", "claim SR-1 5")
    db, now = ready.core.db, at("2027-03-09T23:00")  # 18:00 EST, 23 h before the deadline: all due at once
    barrier, results = threading.Barrier(4), []

    def scheduler():
        barrier.wait()
        results.append(run_due(db, now, home_timezone="America/New_York"))

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    keys = [k for r in results for k in r]
    assert sorted(keys) == sorted(set(keys))  # nobody sent anything twice
    assert {"digest:2:2027-03-09", "remind:unclaimed:1:24h", "remind:not_started:1"} <= set(keys)
    assert len(digests(db)) == 2  # Morgan's DM and the managers channel copy
    assert len(sent(db, "⏰ SR-1 · DST patch, Main St office: 35 units still unclaimed")) == 1
    assert len(sent(db, "⏰ SR-1 · DST patch, Main St office is due")) == 1


def test_a_scheduler_down_over_0800_sends_the_missed_digest_once_on_restart(roster_db):
    assert run_due(roster_db, at("2027-03-02T12:00")) == []  # 07:00 New York: then down until 09:00
    assert run_due(roster_db, at("2027-03-02T14:00")) == ["digest:2:2027-03-02"]
    assert run_due(roster_db, at("2027-03-02T14:01")) == []
    assert len(digests(roster_db)) == 2


def test_the_dst_day_digest_is_sent_once_at_0800_local(roster_db):
    # Clocks in New York jump from 02:00 to 03:00 on Sun 14 Mar 2027: 08:00 EDT is 12:00 UTC.
    t, sent_at = at("2027-03-14T05:00"), []  # midnight in New York
    while t < at("2027-03-15T04:00"):
        if run_due(roster_db, t):
            sent_at.append(t)
        t += timedelta(minutes=30)
    assert sent_at == [at("2027-03-14T12:00")]


def test_digest_carries_the_chart_and_the_margin(ready):
    ready.ok("Tom Tech", "claim SR-1 12")
    ready.ok("Tom Tech", "done SR-1")
    ready.ok("Dana Dispatch", "verify SR-1 Tom")
    run_due(ready.core.db, at("2027-03-01T15:00"))
    [dm, _channel] = digests(ready.core.db)
    assert dm["chart"]["categories"] == ["SR-1 · DST patch, Main St office · due Wed 10 Mar"]
    assert dm["chart"]["series"]["verified"] == [12]
    assert "$300.00" in str(dm)  # 12 × ($60 − $35), month to date


def test_unclaimed_reminders_at_48_and_24_hours_and_not_again(ready):
    db, deadline = ready.core.db, at("2027-03-10T22:00")  # 17:00 EST
    for hours, expect in ((49, []), (47, ["remind:unclaimed:1:48h"]), (46, []), (25, []),
                          (23, ["remind:unclaimed:1:24h"]), (2, [])):
        keys = [k for k in run_due(db, deadline - timedelta(hours=hours)) if k.startswith("remind")]
        assert keys == expect, hours
    texts = [m["text"] for m in sent(db, "⏰")]
    assert ["due within 48 h" in t for t in texts] == [True, False] and "due within 24 h" in texts[1]


def test_a_late_post_gets_only_the_tightest_reminder(ready):
    ready.ok("Dana Dispatch", 'request "Late" units=3 deadline=2027-03-02T09:00 pay=35 town=Hicksville')  # 19 h away
    keys = run_due(ready.core.db, at("2027-03-01T15:00"))
    assert "remind:unclaimed:2:24h" in keys and "remind:unclaimed:2:48h" not in keys
    assert not [k for k in run_due(ready.core.db, at("2027-03-01T16:00")) if k.startswith("remind:unclaimed:2")]


def test_tech_reminded_once_when_not_started_24h_before(ready):
    ready.ok("Tom Tech", "claim SR-1 5")
    db, deadline = ready.core.db, at("2027-03-10T22:00")
    assert "remind:not_started:1" not in run_due(db, deadline - timedelta(hours=25))
    assert "remind:not_started:1" in run_due(db, deadline - timedelta(hours=23))
    assert "remind:not_started:1" not in run_due(db, deadline - timedelta(hours=22))
    [dm] = [m for m in sent(db, "⏰ SR-1") if m["audience"] == "dm"]
    assert dm["person_id"] == 4 and dm["actions"][0]["command"] == "start SR-1"


def test_partner_admins_warned_30_7_and_1_days_before_the_agreement_expires(roster_db):
    expires = at("2027-11-01T12:00")  # Fabrikam's paper signature
    found = []
    for days in (31, 29, 28, 6, 0.5, 0.4):
        found.append([k for k in run_due(roster_db, expires - timedelta(days=days)) if k.startswith("remind:expiry")])
    assert [len(f) for f in found] == [0, 1, 0, 1, 1, 0]
    assert [f[0].rsplit(":", 1)[1] for f in found if f] == ["30d", "7d", "1d"]
    warnings = sent(roster_db, "Fabrikam Tech's non-solicitation agreement")
    assert [w["person_id"] for w in warnings] == [5, 5, 5]  # Frank Fabrikam, their partner admin


def test_work_waiting_for_verification_over_24h_nudges_dispatch(ready, clock):
    ready.ok("Tom Tech", "claim SR-1 5")
    ready.ok("Tom Tech", "done SR-1")
    done = clock.now
    assert not [k for k in run_due(ready.core.db, done + timedelta(hours=23)) if k.startswith("remind:verify")]
    assert [k for k in run_due(ready.core.db, done + timedelta(hours=25)) if k.startswith("remind:verify")]
    assert not [k for k in run_due(ready.core.db, done + timedelta(hours=26)) if k.startswith("remind:verify")]
    [nudge] = sent(ready.core.db, "⏰ Tom Tech reported")
    assert nudge["audience"] == "dispatch" and nudge["actions"][0]["command"] == 'verify SR-1 "Tom Tech"'


def test_tier_widening_after_the_delay_and_not_before(ready, clock):
    db = ready.core.db
    posted = clock.now
    assert not [k for k in run_due(db, posted + timedelta(minutes=29)) if k.startswith("widen")]
    assert [k for k in run_due(db, posted + timedelta(minutes=31)) if k.startswith("widen")] == ["widen:1:2"]
    assert not [k for k in run_due(db, posted + timedelta(minutes=200)) if k.startswith("widen")]  # no tier 3
    with db.session() as s:
        assert s.get(SurgeRequest, 1).visible_tier == 2
        cards = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "card")).all()
    assert [c.payload["change"] for c in cards][-2:] == ["post", "update"]
    offered = {f.label: f.value for f in ready.ok("Tom Tech", "status SR-1").fields}["Offered to"]
    assert offered == "tier 1–2 partners"


def test_a_full_request_is_not_widened(ready, clock):
    ready.ok("Tom Tech", "claim SR-1")
    assert not [k for k in run_due(ready.core.db, clock.now + timedelta(hours=1)) if k.startswith("widen")]


def test_a_request_past_its_deadline_expires_once_and_its_claims_go_on(ready):
    ready.ok("Tom Tech", "claim SR-1 5")
    db, deadline = ready.core.db, at("2027-03-10T22:00")
    assert not [k for k in run_due(db, deadline - timedelta(minutes=1)) if k.startswith("expire")]
    assert [k for k in run_due(db, deadline + timedelta(minutes=1)) if k.startswith("expire")] == ["expire:1"]
    assert not [k for k in run_due(db, deadline + timedelta(minutes=2)) if k.startswith("expire")]
    ready.core.clock = lambda: deadline + timedelta(hours=1)
    assert "expired" in ready.refused("Tom Tech", "claim SR-1 1").text
    ready.ok("Tom Tech", "done SR-1")  # the claim already taken is still reported and verified
    ready.ok("Dana Dispatch", "verify SR-1 Tom")
    [note] = sent(db, "SR-1 · DST patch, Main St office expired")
    assert "35 units unclaimed" in note["text"]
