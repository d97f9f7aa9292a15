"""A settlement records the lines it paid, so every reader, in any time zone, sees the same settled
month, and what comes after it is the next open month's adjustment exactly once. `mine` shows the
statement's own lines: verified work, dispute credits and approved expenses.

Figures by hand: SR-1 pays $35 and bills $60 a unit (later claims $40 after `edit SR-1 pay=40`).
  Tom (Contoso) claims 8, reports 8; 5 are verified on 1 March: 5 × $35 = $175.00.
  Frank (Fabrikam) claims 10 at $40, reports 10; all verified at 02:00 UTC on 1 April, which is 22:00
  on 31 March in New York: 10 × $40 = $400.00, March's in New York and April's in UTC.
"""
from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlmodel import select

from models.db import alembic_config
from models.ledger import SettledLine
from models.tables import Person

DANA, MORGAN, PAULA, TOM, FRANK = "Dana Dispatch", "Morgan Manager", "Paula Admin", "Tom Tech", "Frank Fabrikam"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def reads_in(chat, name: str, zone: str) -> None:
    with chat.core.db.session() as s:
        person = s.exec(select(Person).where(Person.name == name)).one()
        person.timezone = zone
        s.add(person)
        s.commit()


def fields(reply) -> dict[str, str]:
    return {f.label: f.value for f in reply.fields}


def test_mine_counts_dispute_credits_and_approved_expenses_as_the_statement_does(ready, clock):
    ready.ok(TOM, "claim SR-1 8")
    ready.ok(TOM, "done SR-1 8")
    ready.ok(DANA, 'verify SR-1 "Tom Tech" 5')  # 5 × $35 = $175.00
    ready.ok(TOM, 'expense SR-1 45.10 "patch cable"')
    ready.ok(DANA, "approve EX-1")  # $45.10 at cost
    ready.ok(TOM, 'expense SR-1 12 "parking"')
    ready.ok(DANA, 'reject EX-2 "in the rate"')  # not paid
    ready.ok(PAULA, 'dispute SR-1 "all 8 were patched"')
    clock.now = at("2027-03-15T15:00")
    ready.ok(DANA, 'resolve DS-1 "two more confirmed" units=2')  # 2 × $35 = $70.00
    # $175.00 + $70.00 + $45.10 = $290.10; 5 + 2 = 7 verified units
    earned = "$290.10 for 7 verified units and $45.10 of expenses"
    assert fields(ready.ok(TOM, "mine"))["You earned in March 2027"] == earned
    paula = fields(ready.ok(PAULA, "mine"))["Contoso Field Services earned in March 2027"]
    assert paula == f"{earned}\nPaula Admin: $0.00 for 0 verified units\nTom Tech: {earned}"
    assert ready.ok(PAULA, "statement month=2027-03").text.startswith(
        f"Owed to Contoso Field Services for March 2027: {earned}.")
    assert fields(ready.ok(TOM, "mine"))["Your claims"] == "None open."


def frank_reports_ten(chat) -> None:
    chat.ok(DANA, "edit SR-1 pay=40")
    chat.ok(FRANK, "guidelines ack")
    chat.ok(FRANK, "claim SR-1 10")
    chat.ok(FRANK, "done SR-1 10")


def frank_verified_late_on_the_31st(chat, clock) -> None:
    clock.now = at("2027-04-01T02:00")  # 31 March, 22:00 in New York; 1 April in UTC
    chat.ok(DANA, 'verify SR-1 "Frank Fabrikam"')


def test_a_settlement_keeps_its_lines_for_a_reader_in_another_time_zone(ready, clock):
    frank_reports_ten(ready)
    frank_verified_late_on_the_31st(ready, clock)
    clock.now = at("2027-04-05T15:00")
    settled = ready.ok(MORGAN, 'settle Fabrikam month=2027-03 ref="ACH 7"')  # Morgan reads in New York
    assert "$400.00 for 10 verified units" in settled.text
    reads_in(ready, FRANK, "UTC")  # for Frank the verification was on 1 April
    march, april = (ready.ok(FRANK, f"statement month={m}") for m in ("2027-03", "2027-04"))
    assert "$400.00 for 10 verified units" in march.text and "ACH 7" in march.text
    assert "$0.00 for 0 verified units" in april.text  # paid in March: never owed twice
    assert "adjustment" not in str(march.fields)
    reads_in(ready, MORGAN, "Pacific/Auckland")  # a manager half a day ahead sees the same settled month
    assert fields(ready.ok(MORGAN, "statement month=2027-03"))["Fabrikam Tech"].startswith("$400.00 for 10")
    assert "$400.00" in ready.ok(MORGAN, "statement Fabrikam month=2027-03").text
    with ready.core.db.session() as s:
        (line,) = s.exec(select(SettledLine)).all()
        assert (line.kind, line.units, line.amount_cents) == ("work", 10, 40000)


def test_a_verification_after_settlement_is_next_months_adjustment_once_in_every_zone(ready, clock):
    ready.ok(TOM, "claim SR-1 8")
    ready.ok(TOM, "done SR-1 8")
    ready.ok(DANA, 'verify SR-1 "Tom Tech" 5')  # 1 March: $175.00
    frank_reports_ten(ready)
    ready.ok(PAULA, "guidelines ack")
    ready.ok(PAULA, "claim SR-1 4")  # at $40
    ready.ok(PAULA, "done SR-1 4")
    clock.now = at("2027-03-20T16:00")
    ready.ok(MORGAN, "settle Contoso month=2027-03")  # Contoso's March: Tom's $175.00
    clock.now = at("2027-03-25T15:00")
    ready.ok(DANA, 'verify SR-1 "Paula Admin"')  # after the settlement, still March: 4 × $40 = $160.00
    frank_verified_late_on_the_31st(ready, clock)  # Fabrikam: $400.00, unsettled
    for zone in ("America/New_York", "UTC", "America/Los_Angeles", "Asia/Tokyo"):
        reads_in(ready, PAULA, zone)
        owed = {m: ready.ok(PAULA, f"statement month={m}") for m in ("2027-02", "2027-03", "2027-04", "2027-05")}
        assert "$175.00 for 5 verified units" in owed["2027-03"].text, zone  # the settled month is unchanged
        assert "Paula" not in str(owed["2027-03"].fields), zone
        assert "$160.00 for 4 verified units" in owed["2027-04"].text, zone  # the next open month, once
        assert "Paula Admin: 4 units × $40.00 = $160.00 (adjustment" in owed["2027-04"].fields[0].value, zone
        assert "$0.00" in owed["2027-02"].text and "$0.00" in owed["2027-05"].text, zone
    reads_in(ready, MORGAN, "UTC")
    everyone = fields(ready.ok(MORGAN, "statement month=2027-04"))  # Fabrikam's line is April's in UTC
    assert everyone["Contoso Field Services"].startswith("$160.00 for 4 verified units")
    assert everyone["Fabrikam Tech"].startswith("$400.00 for 10 verified units")


def test_settlements_made_before_lines_were_recorded_get_theirs_as_the_books_counted_them(ready, clock):
    ready.ok(TOM, "claim SR-1 8")
    ready.ok(TOM, "done SR-1 8")
    ready.ok(DANA, 'verify SR-1 "Tom Tech" 5')
    frank_reports_ten(ready)
    frank_verified_late_on_the_31st(ready, clock)
    clock.now = at("2027-04-02T15:00")
    ready.ok(MORGAN, "settle Contoso month=2027-03")
    ready.ok(MORGAN, "settle Fabrikam month=2027-03")  # in New York: Frank's line is March's
    with ready.core.db.session() as s:
        before = sorted((x.settlement_id, x.kind, x.source_id, x.units, x.amount_cents)
                        for x in s.exec(select(SettledLine)).all())
    db = ready.core.db
    command.downgrade(alembic_config(db), "0009")  # as a database settled before lines were recorded
    db.engine.dispose()
    db.upgrade()
    with ready.core.db.session() as s:
        after = sorted((x.settlement_id, x.kind, x.source_id, x.units, x.amount_cents)
                       for x in s.exec(select(SettledLine)).all())
    assert after == before and [row[1:] for row in after] == [("work", 1, 5, 17500), ("work", 2, 10, 40000)]
