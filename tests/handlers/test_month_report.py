"""The month report and last month's statements, sent on the 1st at 08:00 in each reader's zone.

The data set (New York, where everyone reads), with its figures worked out by hand:
  SR-1: pay $35, bill $60, deadline 10 March. Tom (Contoso) claims 8 on 1 March, reports them done the
  same day (on time); 5 are verified: paid 5 × $35 = $175.00, billed 5 × $60 = $300.00.
  Frank (Fabrikam) claims 10 on 1 March and reports them done on 20 March (late); they are verified at
  02:00 UTC on 1 April, which is 22:00 on 31 March in New York: they count in March.
  paid 10 × $35 = $350.00, billed 10 × $60 = $600.00.
  March: billed $900.00, paid $525.00, margin $375.00; partners did 15 of 15 units (100%); on time 1 of 2.
  Per customer (Acme Dental): 15 units, the same money. An incident on Fabrikam at 03:00 UTC on 1 April
  (March in New York), a dispute raised in March, and a lead won in March worth $1,200.00: 1, 1, 1.
"""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import select

from handlers.clock import run_due
from handlers.core import Surge
from handlers.month_report import month_report, previous_month
from models.db import Database
from models.ledger import Dispute
from models.tables import AuditEntry, Claim, Incident, OutboxMessage, Person

NY = "America/New_York"
DANA, MORGAN, PAULA, TOM, FRANK = "Dana Dispatch", "Morgan Manager", "Paula Admin", "Tom Tech", "Frank Fabrikam"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ids(db) -> dict[str, int]:
    with db.session() as s:
        return {p.name: p.id for p in s.exec(select(Person)).all()}


def march(chat, clock) -> None:
    chat.ok(TOM, "claim SR-1 8")
    chat.ok(FRANK, "guidelines ack")
    chat.ok(FRANK, "claim SR-1 10")
    chat.ok(TOM, "done SR-1 8")
    chat.ok(DANA, 'verify SR-1 "Tom Tech" 5')
    clock.now = at("2027-03-20T15:00")
    chat.ok(FRANK, "done SR-1 10")
    clock.now = at("2027-04-01T02:00")  # 31 March, 22:00 in New York
    chat.ok(DANA, 'verify SR-1 "Frank Fabrikam"')
    who = ids(chat.core.db)
    with chat.core.db.session() as s:
        frank_claim = s.exec(select(Claim).where(Claim.person_id == who[FRANK])).one()
        s.add(Incident(org_id=frank_claim.org_id, reported_by_id=who[DANA], text="late twice",
                       at=at("2027-04-01T03:00")))
        s.add(Dispute(claim_id=frank_claim.id, org_id=frank_claim.org_id, raised_by_id=who[FRANK], about="short",
                      text="we did more", at=at("2027-03-25T15:00")))
        s.add(AuditEntry(at=at("2027-03-26T15:00"), action="lead.status", actor_id=who[DANA],
                         detail={"lead": "LD-1", "was": "contacted", "state": "won", "value_cents": 120000}))
        s.add(AuditEntry(at=at("2027-04-01T13:00"), action="lead.status", actor_id=who[DANA],  # April: not counted
                         detail={"lead": "LD-2", "was": "new", "state": "won", "value_cents": 5000}))
        s.commit()


def month_mail(db) -> list[dict]:
    with db.session() as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "message").order_by(OutboxMessage.id)).all()
    return [r.payload for r in rows if (r.payload.get("title") or "").startswith(("Month report", "Statement"))]


def test_previous_month_wraps_the_year():
    assert (previous_month("2027-01"), previous_month("2027-04"), previous_month("2027-12")) == (
        "2026-12", "2027-03", "2027-11")


def test_the_month_report_figures(ready, clock):
    march(ready, clock)
    with ready.core.db.session() as s:
        reply = month_report(session=s, month="2027-03", tz=ZoneInfo(NY))
    assert reply.title == "Month report · March 2027"
    assert reply.text == ("Margin $375.00: billed $900.00, paid $525.00. Partners did 100% of the work "
                          "(15 of 15 verified units); 50% on time (1 of 2 claims).")
    per_partner, per_customer, other = reply.fields
    assert per_partner.value == (
        "• Contoso Field Services: 5 units · billed $300.00 · paid $175.00 · margin $125.00, "
        "100% on time (1 of 1 claim)\n"
        "• Fabrikam Tech: 10 units · billed $600.00 · paid $350.00 · margin $250.00, 0% on time (0 of 1 claim)")
    assert per_customer.value == "• Acme Dental: 15 units · billed $900.00 · paid $525.00 · margin $375.00"
    assert other.value == "1 incident recorded · 1 dispute raised (0 resolved) · 1 lead won, worth $1,200.00"
    assert reply.chart.categories == ["Contoso Field Services paid", "Contoso Field Services billed",
                                      "Fabrikam Tech paid", "Fabrikam Tech billed"]
    assert reply.chart.series == {"paid": [175, 0, 350, 0], "billed": [0, 300, 0, 600]}
    with ready.core.db.session() as s:  # in UTC, Frank's verification and the incident are April's
        utc = month_report(session=s, month="2027-03", tz=ZoneInfo("UTC"))
    assert utc.text.startswith("Margin $125.00: billed $300.00, paid $175.00.")


def due(core, when: str) -> list[str]:
    """The month sends one scheduler tick at `when` (UTC) makes."""
    return [k for k in run_due(core.db, at(when), home_timezone=NY) if k.startswith("month-")]


def test_sent_on_the_first_at_0800_local_exactly_once_across_two_cores(ready, clock, db_url):
    march(ready, clock)
    one = ready.core
    two = Surge(Database(db_url), home_timezone=NY, clock=clock)
    who = ids(one.db)

    assert due(one, "2027-03-01T13:00") == []  # 1 March, 08:00: nothing happened in February
    assert due(one, "2027-04-01T08:00") == []  # 08:00 on the 1st in UTC, 04:00 in New York
    assert due(two, "2027-04-01T11:59") == []  # 07:59 in New York
    assert due(two, "2027-04-01T12:00") == [
        f"month-report:{who[MORGAN]}:2027-03", f"month-statement:{who[PAULA]}:2027-03",
        f"month-statement:{who[FRANK]}:2027-03"]
    assert due(one, "2027-04-01T12:00") == [] and due(two, "2027-04-01T12:01") == []
    assert due(one, "2027-04-02T12:00") == []  # the 2nd: nothing more
    mail = month_mail(one.db)
    assert [(m["person_id"], m["title"]) for m in mail] == [
        (who[MORGAN], "Month report · March 2027"),
        (who[PAULA], "Statement · Contoso Field Services · March 2027"),
        (who[FRANK], "Statement · Fabrikam Tech · March 2027")]
    report, paula, frank = mail
    assert report["audience"] == "dm" and report["private"]
    assert report["chart"]["series"]["billed"] == [0, 300, 0, 600]
    assert report["text"].startswith("Margin $375.00")
    assert paula["text"].startswith("Owed to Contoso Field Services for March 2027: $175.00 for 5 verified units.")
    assert frank["text"].startswith("Owed to Fabrikam Tech for March 2027: $350.00 for 10 verified units.")
    assert not paula["private"] and "Acme" not in str(paula) + str(frank)
    two.db.dispose()



def test_a_month_report_missed_on_the_first_is_caught_up_later_that_month_once(ready, clock, db_url):
    march(ready, clock)
    one = ready.core
    two = Surge(Database(db_url), home_timezone=NY, clock=clock)
    who = ids(one.db)

    # no scheduler ran on 1 April after 08:00; the first tick after it is on the 3rd, 05:00 in New York
    expected = [f"month-report:{who[MORGAN]}:2027-03", f"month-statement:{who[PAULA]}:2027-03",
                f"month-statement:{who[FRANK]}:2027-03"]
    assert due(two, "2027-04-03T09:00") == expected
    assert due(one, "2027-04-03T09:00") == [] and due(two, "2027-04-03T09:01") == []
    assert due(one, "2027-04-30T23:00") == []  # still April: sent already
    assert due(one, "2027-05-01T11:59") == []  # 07:59 on 1 May in New York: April's is not due yet
    assert [m["title"] for m in month_mail(one.db)] == [
        "Month report · March 2027", "Statement · Contoso Field Services · March 2027",
        "Statement · Fabrikam Tech · March 2027"]
    # April's report (a lead was won in April) is missed on 1 May too, and caught up on the 20th
    assert due(one, "2027-05-20T16:00") == [k.replace("2027-03", "2027-04") for k in expected]
    assert due(two, "2027-05-20T16:00") == []
    assert len(month_mail(one.db)) == 6
    two.db.dispose()
