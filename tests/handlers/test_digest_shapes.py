"""The digest's two shapes and the figures a manager acts on, from a known week driven through real chat
commands. Morgan reads in New York (EST, UTC-5, early March 2027); every figure is worked out by hand.

Mon 1 Mar (all of it verified that day):
  SR-1 DST patch, 40 units, due Wed 10 Mar, $35 pay / $60 bill, Acme Dental (the `ready` request)
  SR-2 Server swap, 10 units, due Tue 2 Mar 17:00, $40 / $70, Birch Law: Tom claims 6, reports 6 done,
       Dana verifies 4 (a short verification: 2 go back on the card); Paula disputes, Dana credits 2
       units; Tom's $45.00 expense is approved.        billed 4×70 + 2×70 + 45 = $465, paid 4×40 + 2×40 + 45 = $285
  SR-3 Badge readers, 5 units, Birch Law: Tom claims 2, then it is cancelled: it counts nowhere.
  SR-4 Wifi survey, 6 units, due Wed 3 Mar 17:00, $50 / $80, Cedar Clinic: Frank claims all 6 and starts.
Tue 2 Mar: Paula claims 4 of SR-1, reports them, Dana verifies 4.   billed 4×60 = $240, paid 4×35 = $140
  SR-5 Printer drivers, 8 units, due Thu 4 Mar 17:00, $30 / $50: Frank claims 3.
Thu 4 Mar 07:00: Frank reports SR-4's 6 units done (a day late).
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.charts import figure
from handlers.clock import expire
from handlers.digest import build_digest, digest_for
from handlers.types import Tone
from models.books import month_lines
from models.tables import Person


def MAR(d: int, h: int, m: int = 0) -> datetime:
    return datetime(2027, 3, d, h, m, tzinfo=UTC)
POST = 'request "{title}" units={units} deadline={due} pay={pay} bill={bill} town=Hicksville customer="{customer}"'


def field(reply, label: str) -> str:
    found = [f.value for f in reply.fields if f.label == label]
    assert len(found) == 1, f"no single field {label!r} in {[f.label for f in reply.fields]}"
    return found[0]


def labels(reply) -> list[str]:
    return [f.label for f in reply.fields]


def morning(core, now: datetime, day: date, scheduled: bool):
    with core.db.session() as s:
        morgan = s.exec(select(Person.id).where(Person.name == "Morgan Manager")).one()
        return (build_digest(session=s, manager_id=morgan, day=day, now=now, scheduled=scheduled),
                digest_for(session=s, manager_id=morgan, day=day, now=now, scheduled=scheduled))


@pytest.fixture
def week(ready, core, clock):
    chat = ready
    chat.ok("Dana Dispatch", POST.format(title="Server swap", units=10, due="2027-03-02", pay=40, bill=70,
                                         customer="Birch Law"))
    chat.ok("Dana Dispatch", POST.format(title="Badge readers", units=5, due="2027-03-02", pay=20, bill=30,
                                         customer="Birch Law"))
    chat.ok("Dana Dispatch", POST.format(title="Wifi survey", units=6, due="2027-03-03", pay=50, bill=80,
                                         customer="Cedar Clinic"))
    chat.ok("Tom Tech", "claim SR-2 6")
    chat.ok("Tom Tech", "start SR-2")
    chat.ok("Tom Tech", "done SR-2 6")
    chat.ok("Dana Dispatch", 'verify SR-2 "Tom Tech" 4')
    chat.ok("Paula Admin", 'dispute SR-2 "all 6 were done; the customer signed for 6"')
    chat.ok("Dana Dispatch", 'resolve DS-1 "checked with Birch Law" units=2')
    chat.ok("Tom Tech", 'expense SR-2 45.00 "patch cable"')
    chat.ok("Dana Dispatch", "approve EX-1")
    chat.ok("Tom Tech", "claim SR-3 2")
    chat.ok("Dana Dispatch", 'cancel SR-3 "postponed"')
    chat.ok("Frank Fabrikam", "guidelines ack")
    chat.ok("Frank Fabrikam", "claim SR-4")
    chat.ok("Frank Fabrikam", "start SR-4")
    clock.now = MAR(2, 14)  # Tue 2 Mar 09:00
    chat.ok("Paula Admin", "guidelines ack")
    chat.ok("Paula Admin", "claim SR-1 4")
    chat.ok("Paula Admin", "done SR-1")
    chat.ok("Dana Dispatch", 'verify SR-1 "Paula Admin"')
    chat.ok("Dana Dispatch", POST.format(title="Printer drivers", units=8, due="2027-03-04", pay=30, bill=50,
                                         customer="Acme Dental"))
    chat.ok("Frank Fabrikam", "claim SR-5 3")
    clock.now = MAR(2, 23)  # Tue 18:00: SR-2's deadline has passed with 6 units nobody has
    assert expire(core.db, clock()) == ["expire:2"]
    clock.now = MAR(4, 12)  # Thu 4 Mar 07:00
    chat.ok("Frank Fabrikam", "done SR-4")
    clock.now = MAR(4, 13)  # Thu 4 Mar 08:00: the morning digest goes out
    return chat


def test_late_and_expired_work_stays_listed_and_the_glance_says_so(week, core, clock):
    d, reply = morning(core, clock(), date(2027, 3, 4), scheduled=True)
    assert [(r.request_id, r.unverified, r.expired) for r in d.late.shown] == [(2, 6, True), (4, 6, False)]
    assert (d.glance.late_units, d.glance.late_requests) == (12, 2)
    lines = reply.text.splitlines()
    assert "⚠️ *12 units late* on 2 requests: deadline passed, not verified" in lines
    assert not any(line.startswith("Nothing") for line in lines)  # never "Nothing at risk" beside late work
    assert field(reply, "Late · deadline passed, not verified (2)") == (
        "• SR-2 · Server swap: 6 of 10 units not verified (6 unclaimed), due Tue 02 Mar 2027 17:00 EST · expired\n"
        "• SR-4 · Wifi survey: 6 of 6 units not verified (6 done, waiting for verification), "
        "due Wed 03 Mar 2027 17:00 EST")
    assert reply.tone is Tone.WARNING
    week.ok("Dana Dispatch", "reopen SR-2 deadline=2027-03-09")  # someone acted: SR-2 is live again, not late
    week.ok("Dana Dispatch", 'verify SR-4 "Frank Fabrikam"')  # and SR-4 is done with
    d, reply = morning(core, clock(), date(2027, 3, 4), scheduled=True)
    assert (d.late.total, d.glance.late_units) == (0, 0)
    assert "Late · deadline passed, not verified" not in str(labels(reply))


def test_the_0800_digest_is_yesterday_and_what_is_due_today(week, core, clock):
    d, reply = morning(core, clock(), date(2027, 3, 4), scheduled=True)
    assert d.today is None and d.money_today is None
    assert field(reply, "Due today · Thu 04 Mar 2027 (1)") == (
        "• SR-5 · Printer drivers: 8 of 8 units not verified (5 unclaimed, 3 claimed, not started), "
        "due Thu 04 Mar 2027 17:00 EST")
    assert not any(label.startswith("Today so far") for label in labels(reply))
    assert labels(reply).index("Yesterday · Wed 03 Mar 2027") > labels(reply).index("Due today · Thu 04 Mar 2027 (1)")
    assert reply.text.splitlines()[-2].startswith("Yesterday margin *$0.00*")  # nothing verified on Wednesday
    # Built after SR-5's deadline (Thu 17:00), it is late, and listed there alone, not as due today too.
    d, reply = morning(core, MAR(4, 23), date(2027, 3, 4), scheduled=True)
    assert d.due_today.total == 0 and [r.request_id for r in d.late.shown] == [2, 4, 5]
    assert field(reply, "Due today · Thu 04 Mar 2027") == "Nothing else is due today."


def test_digest_in_chat_is_today_so_far_and_yesterday(week, core, clock):
    reply = week.ok("Morgan Manager", "digest")
    d, built = morning(core, clock(), date(2027, 3, 4), scheduled=False)
    assert reply.model_dump() == built.model_dump()
    assert (d.today.done, d.today.units_done) == (1, 6)  # Frank's report at 07:00
    assert field(reply, "Today so far · Thu 04 Mar 2027").startswith(
        "0 requests posted (0 units)\n0 claims taken (0 units)\n1 completion reported (6 units)\n")
    assert "Due today" not in str(labels(reply))
    assert reply.text.splitlines()[-3] == "Today so far margin *$0.00* (billed $0.00 − paid $0.00)"
    # The day before a past day, whole: Tuesday (asked on Thursday) is Tue and Mon.
    tuesday = week.ok("Morgan Manager", "digest date=2027-03-02")
    assert "Tue 02 Mar 2027" in labels(tuesday) and "Yesterday · Mon 01 Mar 2027" in labels(tuesday)
    assert "Tue 02 Mar 2027 margin *$100.00* (billed $240.00 − paid $140.00)" in tuesday.text.splitlines()
    # Monday's posts: SR-1, SR-2, SR-4 (SR-3 was cancelled, so it counts nowhere); claims: Tom 6, Frank 6.
    monday = field(tuesday, "Yesterday · Mon 01 Mar 2027")
    assert monday.startswith("3 requests posted (56 units)\n2 claims taken (12 units)\n")


def test_money_per_partner_and_customer_counts_credits_and_expenses_at_the_claims_rates(week, core, clock):
    d, reply = morning(core, clock(), date(2027, 3, 4), scheduled=True)
    m = d.money_month
    assert (m.billed, m.paid, m.margin) == (70500, 42500, 28000)  # $465 + $240 billed, $285 + $140 paid
    assert [(x.name, x.billed, x.paid, x.margin) for x in m.partners] == [
        ("Contoso Field Services", 70500, 42500, 28000)]  # Fabrikam has nothing verified
    assert [(x.name, x.billed, x.paid, x.margin) for x in m.customers] == [
        ("Birch Law", 46500, 28500, 18000), ("Acme Dental", 24000, 14000, 10000)]
    assert field(reply, "Margin per customer · 01 Mar–04 Mar") == (
        "• Birch Law: margin $180.00 (billed $465.00 − paid $285.00)\n"
        "• Acme Dental: margin $100.00 (billed $240.00 − paid $140.00)")
    assert field(reply, "Margin per partner · 01 Mar–04 Mar") == (
        "• Contoso Field Services: margin $280.00 (billed $705.00 − paid $425.00)")
    _, tuesday = morning(core, clock(), date(2027, 3, 2), scheduled=True)
    assert "Yesterday margin *$180.00* (billed $465.00 − paid $285.00)" in tuesday.text.splitlines()


def test_the_digests_money_is_what_the_books_count(week, core, clock):
    """The digest sums in SQL what `models.books.month_lines` lists line by line (billing: by the month
    of each verification, credit and expense): the two agree per partner and per customer."""
    d, _ = morning(core, clock(), date(2027, 3, 4), scheduled=True)
    with core.db.session() as s:
        lines = month_lines(session=s, month="2027-03", tz=ZoneInfo("America/New_York"), payables=False)
    assert {x.kind for x in lines} == {"work", "credit", "expense"}
    for split, key in ((d.money_month.partners, "partner"), (d.money_month.customers, "customer")):
        books: dict[str, list[int]] = {}
        for x in lines:
            books.setdefault(getattr(x, key), [0, 0])
            books[getattr(x, key)][0] += x.billed
            books[getattr(x, key)][1] += x.owed
        assert {m.name: [m.billed, m.paid] for m in split} == books


def test_on_time_counts_only_deadlines_that_have_passed(week, core, clock):
    d, reply = morning(core, clock(), date(2027, 3, 4), scheduled=True)
    rates = {p.name: (p.on_time, p.due) for p in d.partners}
    # Contoso: Tom's SR-2 claim (done Mon, due Tue) on time; his SR-3 claim was on a cancelled request and
    # SR-1 is due next week. Fabrikam: Frank's SR-4 reported Thu, due Wed; SR-5 is due tonight.
    assert rates == {"Contoso Field Services": (1, 1), "Fabrikam Tech": (0, 1)}
    assert "100% on time (1 of 1 claim whose deadline has passed)" in field(reply, "Contoso Field Services · vetted")
    assert "0% on time (0 of 1 claim whose deadline has passed)" in field(reply, "Fabrikam Tech · vetted")


def test_the_chart_is_a_bar_per_live_or_late_request_by_deadline_with_late_ones_marked(week, core, clock):
    d, _ = morning(core, clock(), date(2027, 3, 4), scheduled=True)
    c = d.chart
    assert c.categories == ["LATE · SR-2 · Server swap · due Tue 02 Mar", "LATE · SR-4 · Wifi survey · due Wed 03 Mar",
                            "SR-5 · Printer drivers · due Thu 04 Mar", "SR-1 · DST patch, Main St office · due Wed 10 Mar"]
    assert c.marked == [0, 1] and c.horizontal and c.shares
    assert c.series == {"verified": [4, 0, 0, 4], "done": [0, 6, 0, 0], "in progress": [0, 0, 0, 0],
                        "claimed": [0, 0, 3, 0], "open": [6, 0, 5, 36]}
    ax = figure(c).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == c.categories  # the soonest deadline on top:
    assert ax.yaxis_inverted()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["verified", "done", "claimed", "open"]  # no empty one
    bars = {name: [p.get_width() for p in container] for name, container in zip(
        ["verified", "done", "claimed", "open"], ax.containers, strict=True)}
    assert bars["verified"] == pytest.approx([0.4, 0, 0, 0.1]) and bars["open"] == pytest.approx([0.6, 0, 5 / 8, 0.9])
    assert [p.get_hatch() for p in ax.containers[0]] == ["//", "//", None, None]  # late bars hatched
    assert [t.get_fontweight() for t in ax.get_yticklabels()] == ["bold", "bold", "normal", "normal"]


def test_open_disputes_and_suspended_partners_claims_are_listed_with_their_age(ready, core, clock):
    ready.ok("Tom Tech", "claim SR-1 5")
    ready.ok("Tom Tech", "done SR-1")
    ready.ok("Dana Dispatch", 'reject SR-1 "Tom Tech" "two machines still on the old patch"')
    ready.ok("Paula Admin", 'dispute SR-1 "the two were patched; see the notes"')
    ready.ok("Frank Fabrikam", "guidelines ack")
    ready.ok("Frank Fabrikam", "claim SR-1 3")
    ready.ok("Frank Fabrikam", "start SR-1")
    ready.ok("Morgan Manager", 'suspend Fabrikam "a customer complained"')
    clock.advance(hours=5)
    reply = ready.ok("Morgan Manager", "digest")
    assert field(reply, "Open disputes (1)") == (
        "• DS-1 · SR-1 · DST patch, Main St office, Contoso Field Services disputes the rejection, "
        "5 hours old: “the two were patched; see the notes”")
    assert field(reply, "Suspended partners' open claims (1)") == (
        "• Fabrikam Tech: SR-1 · DST patch, Main St office, Frank Fabrikam, 3 units in progress, "
        "due Wed 10 Mar 2027 17:00 EST")
    assert reply.tone is Tone.WARNING
    ready.ok("Dana Dispatch", 'resolve DS-1 "agreed: patched"')
    assert "Open disputes" not in str(labels(ready.ok("Morgan Manager", "digest")))


def test_payables_overdue_and_due_within_the_week_until_the_month_is_settled(week, core, clock):
    """Contoso is paid 30 days after each line is recorded. Monday's lines (Tom's 4 units of SR-2 at $40,
    the 2 credited at $40, the $45 expense: $285) fall due Wed 31 Mar; Paula's 4 units of SR-1 at $35
    ($140), verified Tuesday, fall due Thu 1 Apr."""
    d, _ = morning(core, clock(), date(2027, 3, 4), scheduled=True)
    assert d.payables == []  # nothing due within a week of 4 Mar
    d, reply = morning(core, MAR(26, 12), date(2027, 3, 26), scheduled=True)
    assert [(p.partner, p.overdue, p.due_soon) for p in d.payables] == [("Contoso Field Services", 0, 42500)]
    assert field(reply, "Owed to partners, not yet paid (1)") == "• Contoso Field Services: $425.00 due within 7 days"
    clock.now = datetime(2027, 4, 1, 12, tzinfo=UTC)  # Thu 1 Apr 08:00 in New York (EDT)
    d, reply = morning(core, clock(), date(2027, 4, 1), scheduled=True)
    assert [(p.partner, p.overdue, p.due_soon) for p in d.payables] == [("Contoso Field Services", 28500, 14000)]
    assert field(reply, "Owed to partners, not yet paid (1)") == (
        "• Contoso Field Services: *$285.00 overdue*, $140.00 due within 7 days")
    week.ok("Morgan Manager", 'settle Contoso month=2027-03 ref="ACH 0401"')
    d, _ = morning(core, clock(), date(2027, 4, 1), scheduled=True)
    assert d.payables == []
