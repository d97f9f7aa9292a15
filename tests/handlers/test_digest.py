"""The manager's daily digest, built from a known two-day surge driven through real chat commands.

Morgan Manager has no time zone of their own, so they read in Long Island IT's: America/New_York
(EST, UTC-5, in early March 2027). Every figure below is worked out by hand from the story.
"""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import yaml
from sqlalchemy import event
from sqlmodel import select

from handlers.digest import AgreementState, build_digest, digest_for, digest_text
from handlers.roster import load_roster
from handlers.types import Tone
from models.tables import Person
from tests.conftest import ROSTER


def MAR(d: int, h: int, m: int = 0) -> datetime:
    return datetime(2027, 3, d, h, m, tzinfo=UTC)


def digest_of(core, name: str, day: date, now: datetime):
    with core.db.session() as s:
        person_id = s.exec(select(Person.id).where(Person.name == name)).one()
        return build_digest(session=s, manager_id=person_id, day=day, now=now)


def field(reply, label_start: str) -> str:
    found = [f.value for f in reply.fields if f.label.startswith(label_start)]
    assert len(found) == 1, f"no single field {label_start!r} in {[f.label for f in reply.fields]}"
    return found[0]


@pytest.fixture
def surge(ready, clock):
    """Day 1 (Mon 1 Mar) and day 2 (Tue 2 Mar); the clock ends on Wed 3 Mar 08:00 in New York."""
    chat = ready  # SR-1: 40 units, due Wed 10 Mar, pay $35, bill $60; Contoso signed at 09:00
    # Day 1: Tom takes 30, finishes 20 (10 go back), Dana verifies the 20.
    chat.ok("Tom Tech", "claim SR-1 30")
    chat.ok("Tom Tech", "start SR-1")
    chat.ok("Tom Tech", "done SR-1 20")
    chat.ok("Dana Dispatch", 'verify SR-1 "Tom Tech"')
    chat.ok("Tom Tech", 'problem SR-1 "server room locked, waiting for the office manager"')
    chat.ok("Tom Tech", 'lead SR-1 "wants a quote for a new firewall"')
    clock.advance(days=1)  # Tue 2 Mar, 09:00 in New York
    chat.ok("Dana Dispatch", 'request "Printer drivers" units=10 deadline=2027-03-03 pay=40 bill=70 town=Hicksville')
    chat.ok("Dana Dispatch", 'request "Badge readers" units=5 deadline=2027-03-04 pay=20 bill=30 town=Hicksville')
    chat.ok("Frank Fabrikam", "guidelines ack")
    chat.ok("Frank Fabrikam", "claim SR-1 8")  # stays claimed, not started
    chat.ok("Tom Tech", "claim SR-1 6")
    chat.ok("Tom Tech", "release SR-1 2")
    chat.ok("Tom Tech", "start SR-1")  # 4 units in progress
    chat.ok("Paula Admin", "guidelines ack")
    chat.ok("Paula Admin", "claim SR-1 4")
    chat.ok("Paula Admin", "done SR-1")
    chat.ok("Dana Dispatch", 'verify SR-1 "Paula Admin" 3')  # 3 verified, 1 back on the card
    chat.ok("Paula Admin", "claim SR-2 2")
    chat.ok("Paula Admin", "done SR-2")  # 2 units waiting for verification
    chat.ok("Frank Fabrikam", "claim SR-2 3")
    chat.ok("Frank Fabrikam", 'lead SR-2 "the dentist next door needs help too"')
    chat.ok("Tom Tech", "claim SR-3 2")
    chat.ok("Dana Dispatch", 'cancel SR-3 "customer postponed"')  # drops out of the glance
    clock.now = MAR(3, 13)  # Wed 3 Mar, 08:00 in New York: when the digest goes out
    return chat


def test_the_glance_counts_units_where_they_stand(surge, core, clock):
    d = digest_of(core, "Morgan Manager", date(2027, 3, 3), clock())
    g = d.glance
    # SR-1: 40 = 23 verified + 8 Frank claimed + 4 Tom on site + 5 open; SR-2: 10 = 2 done + 3 claimed + 5 open.
    assert (g.open, g.claimed, g.in_progress, g.done, g.verified) == (10, 11, 4, 2, 23)
    # Only SR-2 (due Wed 3 Mar 17:00 EST) is within 48 h: 5 nobody has, 3 Frank has not started.
    assert (g.risk_unclaimed, g.risk_not_started, g.at_risk) == (5, 3, 8)
    assert [(r.request_id, r.unclaimed, r.not_started) for r in d.at_risk] == [(2, 5, 3)]
    assert d.timezone == "America/New_York"


def test_yesterday_is_the_managers_local_day_from_the_audit_log(surge, core, clock):
    y = digest_of(core, "Morgan Manager", date(2027, 3, 3), clock()).yesterday
    # SR-2 (10 units) was posted; SR-3 (5) too, but it was cancelled since, and a cancelled request
    # counts nowhere: neither its posting nor Tom's 2 units on it.
    assert (y.posted, y.units_posted) == (1, 10)
    assert (y.taken, y.units_taken) == (5, 23)  # Frank 8, Tom 6, Paula 4, Paula 2, Frank 3
    assert (y.done, y.units_done) == (2, 6)
    assert (y.verified, y.units_verified) == (1, 3)
    assert (y.released, y.units_released) == (1, 2)
    assert (y.sent_back, y.problems, y.leads, y.signed) == (0, 0, 1, 0)
    day1 = digest_of(core, "Morgan Manager", date(2027, 3, 2), clock()).yesterday
    assert (day1.posted, day1.taken, day1.units_taken, day1.done, day1.units_done) == (1, 1, 30, 1, 20)
    assert (day1.verified, day1.units_verified, day1.problems, day1.leads, day1.signed) == (1, 20, 1, 1, 1)


def test_money_is_verified_units_times_bill_minus_pay(surge, core, clock):
    d = digest_of(core, "Morgan Manager", date(2027, 3, 3), clock())
    # Yesterday: Paula's 3 units of SR-1 at $60 billed, $35 paid.
    assert (d.money_yesterday.billed, d.money_yesterday.paid, d.money_yesterday.margin) == (18000, 10500, 7500)
    # 1–3 March: Tom's 20 and Paula's 3. Reported-but-unverified work (Paula's 2 of SR-2) earns nothing yet.
    assert (d.money_month.billed, d.money_month.paid, d.money_month.margin) == (138000, 80500, 57500)
    assert d.month_start == date(2027, 3, 1)
    second = digest_of(core, "Morgan Manager", date(2027, 3, 2), clock())
    assert (second.money_yesterday.margin, second.money_month.margin) == (20 * 2500, 23 * 2500)
    # The month to date runs through the digest's own day: on the 1st, today's work counts.
    first = digest_of(core, "Morgan Manager", date(2027, 3, 1), clock())
    assert (first.money_yesterday.margin, first.money_month.margin) == (0, 20 * 2500)
    april = digest_of(core, "Morgan Manager", date(2027, 4, 1), datetime(2027, 4, 1, 12, tzinfo=UTC))
    assert (april.month_start, april.money_yesterday.margin, april.money_month.margin) == (date(2027, 4, 1), 0, 0)


def test_partners_performance_and_agreements(surge, core, clock):
    d = digest_of(core, "Morgan Manager", date(2027, 3, 3), clock())
    contoso, fabrikam = d.partners
    assert (contoso.name, contoso.agreement) == ("Contoso Field Services", AgreementState.SIGNED)
    assert contoso.valid_until == datetime(2028, 3, 1, 14, 0, tzinfo=UTC)  # signed Mon 1 Mar 2027 09:00 EST
    # Tom 6, Paula 4 + 2 (Tom's 2 on SR-3 left out: SR-3 was cancelled)
    assert (contoso.taken, contoso.done, contoso.verified, contoso.released) == (12, 6, 3, 2)
    assert (contoso.units_verified, contoso.claims_verified, contoso.leads) == (23, 2, 1)
    assert (contoso.on_time, contoso.due) == (0, 0)  # no deadline has passed: no on-time rate yet
    assert (fabrikam.name, fabrikam.agreement) == ("Fabrikam Tech", AgreementState.SIGNED)
    assert fabrikam.valid_until == datetime(2027, 11, 1, 12, 0, tzinfo=UTC)  # paper, 2026-11-01, 12 months
    assert (fabrikam.taken, fabrikam.units_verified, fabrikam.leads) == (11, 0, 1)


def test_problems_and_leads_of_yesterday(surge, core, clock):
    d = digest_of(core, "Morgan Manager", date(2027, 3, 3), clock())
    assert d.problems == []
    assert [(n.request_id, n.person, n.org, n.text) for n in d.leads] == [
        (2, "Frank Fabrikam", "Fabrikam Tech", "the dentist next door needs help too")]
    d1 = digest_of(core, "Morgan Manager", date(2027, 3, 2), clock())
    assert [(n.request_id, n.person, n.text) for n in d1.problems] == [
        (1, "Tom Tech", "server room locked, waiting for the office manager")]
    assert [(n.request_id, n.org, n.text) for n in d1.leads] == [
        (1, "Contoso Field Services", "wants a quote for a new firewall")]


def test_the_chat_digest_reads_headline_first(surge):
    reply = surge.ok("Morgan Manager", "digest")
    assert reply.title == "Surge digest · Wed 03 Mar 2027"
    lines = reply.text.splitlines()
    assert lines[0] == "*10 open · 11 claimed · 4 in progress · 2 done · 23 verified* (units)"
    assert lines[1].endswith(" 50% reported done or verified")
    assert lines[2] == "⚠️ *8 units at risk* (due within 48 h): 5 unclaimed, 3 claimed but not started"
    assert lines[3] == "Today so far margin *$0.00* (billed $0.00 − paid $0.00)"  # asked in chat: today too
    assert lines[4] == "Yesterday margin *$75.00* (billed $180.00 − paid $105.00)"
    assert lines[5] == "March to date margin *$575.00* (billed $1,380.00 − paid $805.00)"
    assert field(reply, "At risk") == "• SR-2 · Printer drivers: 5 unclaimed, 3 not started, due Wed 03 Mar 2027 17:00 EST"
    yesterday = field(reply, "Yesterday · Tue 02 Mar 2027")
    assert "1 request posted (10 units)" in yesterday and "5 claims taken (23 units)" in yesterday  # SR-3 cancelled
    assert "1 verification (3 units)" in yesterday and "1 release (2 units), 0 sent back" in yesterday
    contoso = field(reply, "Contoso Field Services · vetted")
    assert contoso.startswith("agreement signed, valid until Wed 01 Mar 2028\n")
    assert "yesterday took 12, reported done 6, verified 3, released 2 units" in contoso
    # No deadline has passed yet, so there is no on-time rate (it said "100% on time" before).
    assert "so far 23 units verified, no deadline passed yet, 0 rework, 0 claims given back whole, " \
           "1 lead handed back" in contoso
    assert field(reply, "Fabrikam Tech · vetted").startswith("agreement signed, valid until Mon 01 Nov 2027\n")
    # Problems and leads are listed once, open ones with their age and state (a lead of yesterday is
    # no longer listed a second time under "Leads yesterday").
    assert field(reply, "Open problems (1)") == ("• PR-1 · SR-1 · DST patch, Main St office, Tom Tech "
                                                 "(Contoso Field Services), 47 hours old: “server room locked, "
                                                 "waiting for the office manager”")
    leads = field(reply, "Leads to follow up (2)").splitlines()
    assert leads[0].startswith("• LD-2 · new · SR-2 · Printer drivers, Frank Fabrikam (Fabrikam Tech), 23 hours old")
    assert "Problems yesterday" not in str(reply.fields) and "Leads yesterday" not in str(reply.fields)
    assert field(reply, "Today so far · Wed 03 Mar 2027").startswith("0 requests posted (0 units)\n")
    assert reply.tone is Tone.WARNING  # something is at risk


def test_digest_for_a_given_date(surge):
    reply = surge.ok("Morgan Manager", "digest date=2027-03-02")
    assert reply.title == "Surge digest · Tue 02 Mar 2027"
    assert "Yesterday margin *$500.00* (billed $1,200.00 − paid $700.00)" in reply.text.splitlines()
    assert "March to date margin *$575.00* (billed $1,380.00 − paid $805.00)" in reply.text.splitlines()
    assert "1 claim taken (30 units)" in field(reply, "Yesterday · Mon 01 Mar 2027")
    assert "5 claims taken (23 units)" in field(reply, "Tue 02 Mar 2027")  # the day asked for, whole (SR-3 left out)
    refused = surge.refused("Morgan Manager", "digest date=2027-03-04")
    assert "hasn't come yet" in refused.text
    surge.refused("Morgan Manager", "digest date=yesterday")


def test_digest_for_matches_the_chat_command(surge, core, clock):
    with core.db.session() as s:
        morgan = s.exec(select(Person.id).where(Person.name == "Morgan Manager")).one()
        reply = digest_for(session=s, manager_id=morgan, day=date(2027, 3, 3), now=clock(), scheduled=False)
    assert reply.model_dump() == surge.ok("Morgan Manager", "digest").model_dump()

    cli = digest_text(core, manager="morgan manager", day=None, now=clock())  # what `surge digest` prints
    assert [r.model_dump() for r in cli] == [reply.model_dump()]
    assert [r.title for r in digest_text(core, manager=None, day=date(2027, 3, 2), now=clock())] == [
        "Surge digest · Tue 02 Mar 2027"]
    for nobody in ("Dana Dispatch", "Nobody"):
        with pytest.raises(LookupError):
            digest_text(core, manager=nobody, day=None, now=clock())


@pytest.mark.parametrize("who", ["Dana Dispatch", "Tom Tech", "Paula Admin", "Frank Fabrikam", "Someone Else"])
def test_only_managers_get_the_digest(ready, who):
    reply = ready.refused(who, "digest")
    if who != "Someone Else":
        assert "Only managers can use `digest`. Ask: Morgan Manager." in reply.text


def test_agreement_missing_and_expiring(chat, core, clock):
    d = digest_of(core, "Morgan Manager", date(2027, 3, 1), clock())  # Contoso has not signed
    states = {p.name: p.agreement for p in d.partners}
    assert states == {"Contoso Field Services": AgreementState.MISSING, "Fabrikam Tech": AgreementState.SIGNED}
    late = datetime(2027, 10, 10, 12, tzinfo=UTC)  # 22 days before Fabrikam's paper signature runs out
    d = digest_of(core, "Morgan Manager", date(2027, 10, 10), late)
    assert {p.name: p.agreement for p in d.partners}["Fabrikam Tech"] == AgreementState.EXPIRING
    clock.now = late
    reply = chat.ok("Morgan Manager", "digest")
    assert field(reply, "Fabrikam Tech").startswith("⚠️ agreement expires Mon 01 Nov 2027")
    assert field(reply, "Contoso Field Services").startswith("⚠️ agreement NOT signed")
    after = digest_of(core, "Morgan Manager", date(2027, 11, 2), datetime(2027, 11, 2, 12, tzinfo=UTC))
    assert {p.name: p.agreement for p in after.partners}["Fabrikam Tech"] == AgreementState.MISSING


def test_a_manager_in_tokyo_sees_the_day_boundary_in_tokyo(ready, core, clock):
    roster = yaml.safe_load(ROSTER.read_text())
    roster["people"].append({"name": "Kenji Manager", "org": "Long Island IT", "roles": ["manager"],
                             "timezone": "Asia/Tokyo"})
    load_roster(core.db, yaml.safe_dump(roster, allow_unicode=True), now=clock())
    clock.now = MAR(2, 3)  # Mon 1 Mar 22:00 in New York, Tue 2 Mar 12:00 in Tokyo
    ready.ok("Tom Tech", "claim SR-1 10")
    clock.now = MAR(2, 20)  # Tue 2 Mar 15:00 in New York, Wed 3 Mar 05:00 in Tokyo
    ready.ok("Tom Tech", "done SR-1")
    ready.ok("Dana Dispatch", 'verify SR-1 "Tom Tech"')
    clock.now = MAR(3, 13)  # Wed 3 Mar: 08:00 in New York, 22:00 in Tokyo
    morgan = digest_of(core, "Morgan Manager", date(2027, 3, 3), clock())
    kenji = digest_of(core, "Kenji Manager", date(2027, 3, 3), clock())
    assert (morgan.yesterday.taken, morgan.yesterday.verified, morgan.money_yesterday.margin) == (0, 1, 25000)
    assert (kenji.yesterday.taken, kenji.yesterday.verified, kenji.money_yesterday.margin) == (1, 0, 0)
    assert kenji.timezone == "Asia/Tokyo"
    assert ready.ok("Kenji Manager", "digest").title == "Surge digest · Wed 03 Mar 2027"
    ready.refused("Kenji Manager", "digest date=2027-03-04")  # not Thursday in Tokyo yet
    clock.now = MAR(3, 16)  # Wed 3 Mar 11:00 in New York, Thu 4 Mar 01:00 in Tokyo
    reply = ready.ok("Kenji Manager", "digest")
    assert reply.title == "Surge digest · Thu 04 Mar 2027"
    assert "Yesterday margin *$250.00* (billed $600.00 − paid $350.00)" in reply.text.splitlines()
    assert "March to date margin *$250.00* (billed $600.00 − paid $350.00)" in reply.text.splitlines()
    assert ready.ok("Morgan Manager", "digest").title == "Surge digest · Wed 03 Mar 2027"


def test_the_digest_costs_the_same_few_queries_however_much_work_there_is(surge, core, clock):
    def statements() -> int:
        count = [0]

        def tick(*_args):
            count[0] += 1

        event.listen(core.db.engine, "before_cursor_execute", tick)
        try:
            digest_of(core, "Morgan Manager", date(2027, 3, 3), clock())
        finally:
            event.remove(core.db.engine, "before_cursor_execute", tick)
        return count[0]

    before = statements()
    for n in range(4, 10):
        surge.ok("Dana Dispatch", f'request "More work {n}" units=5 deadline=2027-03-20 pay=10 bill=20 town=Hicksville')
        surge.ok("Tom Tech", f"claim SR-{n} 2")
    assert statements() == before
    assert digest_of(core, "Morgan Manager", date(2027, 3, 3), clock()).glance.claimed == 11 + 12
