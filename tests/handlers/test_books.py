"""Closing the books: rates kept at claim time, statements, settling, billing and CSV exports.

The data set, with its figures worked out by hand:
  SR-1 is posted at pay $35, bill $60 (40 units). Tom (Contoso) claims 8 at $35 / $60.
  `edit SR-1 pay=40` changes the rate of later claims only: Frank (Fabrikam) claims 10 at $40 / $60.
  Tom reports 8 done; 5 are verified (a partial verification): 5 × $35 = $175.00 owed, 5 × $60 = $300.00 billed.
  Frank reports 10 done, all verified: 10 × $40 = $400.00 owed, 10 × $60 = $600.00 billed.
"""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlmodel import select

from handlers.types import Audience
from models.queries import verified_money
from models.tables import AuditEntry, Claim, Person, Settlement

DANA, MORGAN, PAULA, TOM, FRANK = "Dana Dispatch", "Morgan Manager", "Paula Admin", "Tom Tech", "Frank Fabrikam"


def claims(chat) -> dict[str, Claim]:
    with chat.core.db.session() as s:
        rows = s.exec(select(Claim, Person.name).join(Person, Person.id == Claim.person_id)).all()
        return {name: c for c, name in rows}


def work(chat, *, verify_frank: bool = True) -> None:
    """The data set above, on 1 March (New York)."""
    chat.ok(TOM, "claim SR-1 8")
    chat.ok(DANA, "edit SR-1 pay=40")
    chat.ok(FRANK, "guidelines ack")
    chat.ok(FRANK, "claim SR-1 10")
    chat.ok(TOM, "done SR-1 8")
    chat.ok(FRANK, "done SR-1 10")
    chat.ok(DANA, 'verify SR-1 "Tom Tech" 5')
    if verify_frank:
        chat.ok(DANA, 'verify SR-1 "Frank Fabrikam"')


def test_a_claim_keeps_the_rates_of_the_moment_it_was_taken(ready):
    work(ready)
    kept = claims(ready)
    assert (kept[TOM].pay_cents, kept[TOM].bill_cents) == (3500, 6000)
    assert (kept[FRANK].pay_cents, kept[FRANK].bill_cents) == (4000, 6000)
    ready.ok(DANA, "edit SR-1 pay=45 bill=70")  # a later edit changes no claim already taken
    assert claims(ready)[TOM].pay_cents == 3500 and claims(ready)[FRANK].bill_cents == 6000
    with ready.core.db.session() as s:  # the digest's margin: billed 300 + 600, paid 175 + 400
        (month,) = verified_money(session=s, periods=[(datetime(2027, 3, 1, tzinfo=UTC),
                                                       datetime(2027, 4, 1, tzinfo=UTC))])
    assert (month.billed, month.paid, month.margin) == (90000, 57500, 32500)


def test_a_reassigned_claim_keeps_the_original_claims_rates(ready):
    ready.ok(TOM, "claim SR-1 8")  # at $35 / $60
    ready.ok(DANA, "edit SR-1 pay=40 bill=70")
    ready.ok(FRANK, "guidelines ack")
    ready.ok(DANA, 'reassign SR-1 "Tom Tech" "Frank Fabrikam" 3')
    kept = claims(ready)
    assert (kept[FRANK].units, kept[FRANK].pay_cents, kept[FRANK].bill_cents) == (3, 3500, 6000)
    ready.ok(FRANK, "done SR-1")
    ready.ok(DANA, 'verify SR-1 "Frank Fabrikam"')
    assert "3 units × $35.00 = $105.00" in ready.ok(FRANK, "statement").fields[0].value


def test_a_statement_lists_verified_work_at_each_claims_rate(ready):
    work(ready)
    reply = ready.ok(PAULA, "statement month=2027-03")
    assert reply.title == "Statement · Contoso Field Services · March 2027"
    assert "$175.00 for 5 verified units" in reply.text and "Not settled yet" in reply.text
    assert "Tom Tech: 5 units × $35.00 = $175.00" in reply.fields[0].value
    frank = ready.ok(FRANK, "statement")  # this month, in the reader's zone: March
    assert "$400.00 for 10 verified units" in frank.text and "10 units × $40.00 = $400.00" in frank.fields[0].value
    every = ready.ok(MORGAN, "statement month=2027-03")
    assert "Owed to partners: $575.00" in every.text
    assert [f.label for f in every.fields] == ["Contoso Field Services", "Fabrikam Tech"]
    assert ready.ok(MORGAN, "statement Fabrikam month=2027-03").text == frank.text
    assert "None this month" in ready.ok(PAULA, "statement month=2027-04").fields[0].value


def test_a_month_is_the_readers_not_utcs(ready):
    work(ready, verify_frank=False)
    ready.core.clock.now = datetime(2027, 4, 1, 2, 0, tzinfo=UTC)  # 31 March, 22:00 in New York
    ready.ok(DANA, 'verify SR-1 "Frank Fabrikam"')
    assert "$400.00" in ready.ok(FRANK, "statement").text  # still March in New York
    assert "$400.00" in ready.ok(FRANK, "statement month=2027-03").text
    assert "$0.00" in ready.ok(FRANK, "statement month=2027-04").text


def test_only_a_partners_admin_or_a_manager_sees_its_statement(ready):
    work(ready)
    assert "Contoso Field Services's statement only" in ready.refused(PAULA, "statement Fabrikam").text
    assert "partner admins" in ready.refused(TOM, "statement").text
    assert "partner admins" in ready.refused(DANA, "statement Contoso").text
    assert "like 2027-03" in ready.refused(PAULA, "statement month=March").text
    assert "no partner called" in ready.refused(MORGAN, "statement Northwind").text


def test_settling_marks_the_month_paid_tells_the_admins_and_never_changes_it(ready):
    work(ready, verify_frank=False)
    ready.core.clock.now = datetime(2027, 3, 20, 16, 0, tzinfo=UTC)
    reply = ready.ok(MORGAN, 'settle Contoso month=2027-03 ref="ACH 0320-17"')
    assert "$175.00 for 5 verified units" in reply.text and "ACH 0320-17" in reply.text
    paula = [m for m in ready.messages_to(Audience.DM) if "Statement settled" in (m.get("title") or "")]
    assert len(paula) == 1 and "$175.00" in paula[0]["text"] and "ACH 0320-17" in paula[0]["text"]
    assert "reference “ACH 0320-17”: $175.00" in ready.ok(PAULA, "statement month=2027-03").text
    again = ready.refused(MORGAN, 'settle Contoso month=2027-03 ref="again"')
    assert "already settled" in again.text and "never changes" in again.text
    with ready.core.db.session() as s:
        assert len(s.exec(select(Settlement)).all()) == 1
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "books.settled")).one()
        assert entry.detail["total_cents"] == 17500 and entry.detail["ref"] == "ACH 0320-17"


def test_work_verified_after_its_month_was_settled_is_next_months_adjustment(ready):
    work(ready, verify_frank=False)  # Tom: 5 × $35 verified on 1 March
    ready.ok(PAULA, "guidelines ack")
    ready.ok(PAULA, "claim SR-1 4")  # after the edit: $40 a unit
    ready.ok(PAULA, "done SR-1 4")
    ready.core.clock.now = datetime(2027, 3, 20, 16, 0, tzinfo=UTC)
    ready.ok(MORGAN, "settle Contoso month=2027-03")
    ready.core.clock.now = datetime(2027, 3, 25, 15, 0, tzinfo=UTC)  # still March, after the settlement
    ready.ok(DANA, 'verify SR-1 "Paula Admin"')  # 4 × $40 = $160.00
    march = ready.ok(PAULA, "statement month=2027-03")
    assert "$175.00 for 5 verified units" in march.text and "Settled" in march.text  # unchanged
    assert "Paula" not in str(march.fields)
    april = ready.ok(PAULA, "statement month=2027-04")
    assert "$160.00 for 4 verified units" in april.text and "Not settled yet" in april.text
    assert "Paula Admin: 4 units × $40.00 = $160.00 (adjustment" in april.fields[0].value
    assert "nothing to settle" in ready.refused(MORGAN, "settle Fabrikam month=2027-03").text


def test_only_managers_settle_and_mistakes_are_explained(ready):
    work(ready)
    assert "managers" in ready.refused(PAULA, "settle Contoso month=2027-03").text
    assert "managers" in ready.refused(DANA, "settle Contoso month=2027-03").text
    assert "like 2027-03" in ready.refused(MORGAN, "settle Contoso month=2027-13").text
    assert "month" in ready.refused(MORGAN, "settle Contoso").text
    assert "hasn't begun" in ready.refused(MORGAN, "settle Contoso month=2027-05").text


def test_billing_names_customers_and_sites_privately_at_each_claims_bill_rate(ready):
    work(ready)
    reply = ready.ok(MORGAN, "billing month=2027-03")
    assert reply.private  # names the customer and the site: to the manager alone, never a shared channel
    assert "Billed: $900.00 for 15 verified units; paid to partners $575.00; margin $325.00" in reply.text
    assert reply.fields[0].label == "Acme Dental · $900.00"
    lines = reply.fields[0].value.splitlines()
    assert lines == ["SR-1 · DST patch, Main St office · 12 Main St, Hicksville: 5 units × $60.00 = $300.00",
                     "SR-1 · DST patch, Main St office · 12 Main St, Hicksville: 10 units × $60.00 = $600.00"]
    assert "Acme Dental · $900.00" == ready.ok(MORGAN, "billing acme month=2027-03").fields[0].label
    assert "No verified work for customers matching “Globex”" in ready.ok(MORGAN, "billing Globex").text
    for who in (DANA, PAULA, TOM):
        assert "managers" in ready.refused(who, "billing").text


def set_title(chat, title: str) -> None:
    from models.tables import SurgeRequest

    with chat.core.db.session() as s:
        req = s.get(SurgeRequest, 1)
        req.title = title
        s.add(req)
        s.commit()


TRICKY = 'Patch, "round 2"\nsecond floor'


def test_exports_are_csv_with_exact_columns_that_read_back(ready):
    work(ready, verify_frank=False)
    ready.core.clock.now = datetime(2027, 4, 1, 2, 0, tzinfo=UTC)  # 31 March 22:00 EDT: March's
    ready.ok(DANA, 'verify SR-1 "Frank Fabrikam"')
    ready.ok(MORGAN, 'settle Contoso month=2027-03 ref="ACH, 1"')
    set_title(ready, TRICKY)
    reply = ready.ok(MORGAN, "export payables month=2027-03")
    assert reply.file.name == "surge-payables-2027-03.csv" and "surge export payables --month 2027-03" in reply.text
    assert not reply.private
    rows = list(csv.DictReader(io.StringIO(reply.file.content, newline="")))
    assert list(rows[0]) == ["partner", "request", "title", "tech", "units", "pay_rate", "amount", "verified_at",
                             "settled_ref"]
    assert [(r["partner"], r["tech"], r["units"], r["pay_rate"], r["amount"], r["settled_ref"]) for r in rows] == [
        ("Contoso Field Services", "Tom Tech", "5", "35.00", "175.00", "ACH, 1"),
        ("Fabrikam Tech", "Frank Fabrikam", "10", "40.00", "400.00", "")]
    assert rows[0]["title"] == TRICKY and rows[0]["request"] == "SR-1"
    assert rows[1]["verified_at"] == "2027-03-31T22:00-04:00"
    bill = ready.ok(MORGAN, "export billing month=2027-03")
    assert bill.private
    rows = list(csv.DictReader(io.StringIO(bill.file.content, newline="")))
    assert list(rows[0]) == ["customer", "site", "request", "title", "units", "bill_rate", "amount", "verified_at"]
    assert [(r["customer"], r["site"], r["units"], r["bill_rate"], r["amount"]) for r in rows] == [
        ("Acme Dental", "12 Main St, Hicksville", "5", "60.00", "300.00"),
        ("Acme Dental", "12 Main St, Hicksville", "10", "60.00", "600.00")]
    assert "managers" in ready.refused(PAULA, "export payables").text
    assert "payables or billing" in ready.refused(MORGAN, "export invoices").text


def test_the_console_writes_an_export_to_a_file_and_prints_its_path(ready, tmp_path):
    from bot.console import Console

    work(ready)
    out = io.StringIO()
    con = Console(ready.core, person=MORGAN, out=out)
    con.export_dir = tmp_path
    con.run(["export billing month=2027-03"])
    path = tmp_path / "surge-billing-2027-03.csv"
    assert f"file written: {path}" in out.getvalue()
    assert "600.00" in path.read_text()


def test_the_cli_prints_or_writes_an_export(ready, db_url, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    work(ready)
    env = {**os.environ, "DATABASE_URL": db_url, "SURGE_TIMEZONE": "America/New_York"}
    env.pop("SURGE_ROSTER", None)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "bot.main", "export", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    printed = run("payables", "--month", "2027-03")
    assert printed.returncode == 0, printed.stderr
    assert [r["amount"] for r in csv.DictReader(io.StringIO(printed.stdout))] == ["175.00", "400.00"]
    target = tmp_path / "billing.csv"
    assert run("billing", "--month", "2027-03", "--out", str(target)).returncode == 0
    assert [r["amount"] for r in csv.DictReader(io.StringIO(target.read_text()))] == ["300.00", "600.00"]
    assert run("billing", "--month", "March").returncode == 2


def test_mine_shows_each_role_its_own_work(ready):
    work(ready, verify_frank=False)  # Tom: 5 verified ($175.00); Frank: 10 reported done
    ready.ok(PAULA, "guidelines ack")
    ready.ok(PAULA, "claim SR-1 4")
    ready.ok(FRANK, 'problem SR-1 "the server room is locked"')
    tom = ready.ok(TOM, "mine")
    assert {f.label: f.value for f in tom.fields} == {
        "Your claims": "None open.", "You earned in March 2027": "$175.00 for 5 verified units"}
    paula = {f.label: f.value for f in ready.ok(PAULA, "mine").fields}
    assert paula["Claimed"].startswith("Paula Admin: SR-1 · DST patch, Main St office: 4 units")
    assert paula["Contoso Field Services earned in March 2027"] == (
        "$175.00 for 5 verified units\nPaula Admin: $0.00 for 0 verified units\nTom Tech: $175.00 for 5 verified units")
    frank = {f.label: f.value for f in ready.ok(FRANK, "mine").fields}
    assert frank["Reported done"].startswith("Frank Fabrikam: SR-1 · DST patch, Main St office: 10 units")
    dana = ready.ok(DANA, "mine")
    assert dana.fields[0].value == "SR-1 · DST patch, Main St office: Frank Fabrikam (10 units) to verify"
    assert [a.command for a in dana.actions] == ['verify SR-1 "Frank Fabrikam"']
    assert len(dana.fields) == 1 and not dana.private
    morgan = ready.ok(MORGAN, "mine")
    assert morgan.private and morgan.fields[1].label == "Open problems (1)"
    assert "the server room is locked" in morgan.fields[1].value
