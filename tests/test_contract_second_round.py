"""The second round's outside contract (INTERFACE.md, "Added in the second round"), rule by rule, as an
outside suite drives it: through the console core (`chat`), the `surge` command line and the console.

SR-1 of `ready`: 40 units due Wed 10 Mar 2027 17:00 New York, pay $35, bill $60, customer Acme Dental,
site 12 Main St, Hicksville, contact Ann Lee. Contoso (Paula admin, Tom tech) is tier 1 and signed;
Fabrikam (Frank, admin and tech) signed on paper. Dana dispatches, Morgan manages.
"""
from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys

import pytest
from sqlmodel import select

from bot.console import Console
from handlers.types import Audience
from models.tables import Claim, Org, Person, SurgeRequest
from tests.conftest import ROOT, dms_to
from tests.harness import wait_for
from tests.slack.conftest import DISPATCH, slack  # noqa: F401 - slack is a fixture
from tests.teams import conftest as in_teams
from tests.teams.conftest import connector, installed, posted, surge, teams  # noqa: F401 - fixtures

DANA, MORGAN, PAULA, TOM, FRANK = "Dana Dispatch", "Morgan Manager", "Paula Admin", "Tom Tech", "Frank Fabrikam"
POST = 'request "Printer swap" units=10 deadline=2027-03-12 pay=30 bill=50 town=Hicksville customer="Acme Dental"'


def sr1(chat) -> SurgeRequest:
    with chat.core.db.session() as s:
        return s.get(SurgeRequest, 1)


def claim_of(chat, name: str, rid: int = 1) -> Claim:
    with chat.core.db.session() as s:
        return s.exec(select(Claim).join(Person, Person.id == Claim.person_id)
                      .where(Claim.request_id == rid, Person.name == name).order_by(Claim.id)).all()[-1]


def cards(chat) -> list[tuple[int, str]]:
    return [(m.payload["request_id"], m.payload["change"]) for m in chat.outbox() if m.kind == "card"]


def texts(chat, audience: Audience) -> str:
    return "\n".join(f"{m.get('title') or ''} {m['text']}" for m in chat.messages_to(audience))


def dm_text(chat, name: str) -> str:
    return "\n".join(f"{m.get('title') or ''} {m['text']} {m.get('fields')}" for m in dms_to(chat, name))


def verified(chat, who: str = TOM, units: int = 8, ok: int | None = None) -> None:
    chat.ok(who, f"claim SR-1 {units}")
    chat.ok(who, f"done SR-1 {units}")
    chat.ok(DANA, f'verify SR-1 "{who}"' + (f" {ok}" if ok else ""))


# -- keeping the work in hand ---------------------------------------------------------------------

def test_edit_changes_an_open_request_and_updates_its_cards_in_place(ready):
    before = len(cards(ready))
    ready.ok(DANA, 'edit SR-1 units=30 pay=36 bill=61 minutes=45 title="DST patch, front office" town=Mineola')
    assert cards(ready)[before:] == [(1, "update")]
    req = sr1(ready)
    assert (req.units, req.title, req.town) == (30, "DST patch, front office", "Mineola")
    assert "Only dispatchers" in ready.refused(TOM, "edit SR-1 units=20").text


def test_edit_takes_every_option_the_contract_names(ready):
    ready.ok(DANA, 'edit SR-1 units=20 deadline=2027-03-12T09:30 pay=36 bill=62 minutes=40 title="Patch round 2" '
                   'scope="patch the front desk PCs" skills=windows,printers town=Mineola customer="Acme Dental Group" '
                   'site="14 Main St, Mineola" contact="Bo Lee 516-555-0102" approval=yes')
    req = sr1(ready)
    assert (req.units, req.title, req.town, req.site, req.skills) == (
        20, "Patch round 2", "Mineola", "14 Main St, Mineola", ["windows", "printers"])
    assert req.approval_required
    ready.ok(DANA, "edit SR-1 approval=no")
    assert not sr1(ready).approval_required


def test_edit_never_sets_units_below_what_is_claimed_and_says_that_number(ready):
    ready.ok(TOM, "claim SR-1 12")
    reply = ready.refused(DANA, "edit SR-1 units=10")
    assert "12" in reply.text


def test_edit_tells_claimants_in_a_dm_what_changed_for_them(ready):
    ready.ok(TOM, "claim SR-1 5")
    before = len(dms_to(ready, TOM))
    ready.ok(DANA, "edit SR-1 deadline=2027-03-12")
    told = dms_to(ready, TOM)[before:]
    assert len(told) == 1 and "Fri 12 Mar 2027 17:00 EST" in str(told[0])


def test_edit_of_a_rate_changes_later_claims_only(ready):
    ready.ok(TOM, "claim SR-1 5")
    ready.ok(DANA, "edit SR-1 pay=40 bill=70")
    ready.ok(FRANK, "guidelines ack")
    ready.ok(FRANK, "claim SR-1 5")
    assert (claim_of(ready, TOM).pay_cents, claim_of(ready, TOM).bill_cents) == (3500, 6000)
    assert (claim_of(ready, FRANK).pay_cents, claim_of(ready, FRANK).bill_cents) == (4000, 7000)


def test_reopen_makes_a_cancelled_request_open_and_posts_its_cards_afresh(ready):
    ready.ok(DANA, "cancel SR-1")
    ready.ok(DANA, "reopen SR-1")
    assert sr1(ready).status == "open" and cards(ready)[-1] == (1, "post")
    ready.ok(TOM, "claim SR-1 3")


def test_reopen_takes_a_new_deadline_for_an_expired_request(ready, clock):
    from handlers.clock import run_due

    clock.advance(days=10)
    run_due(ready.core.db, clock(), home_timezone="America/New_York")
    assert sr1(ready).status == "expired"
    ready.ok(DANA, "reopen SR-1 deadline=2027-03-18")
    assert sr1(ready).status == "open"


def test_widen_offers_the_request_to_the_next_tier_or_tier_n_now(ready):
    ready.ok(DANA, "widen SR-1")
    assert sr1(ready).visible_tier == 2
    ready.ok(DANA, "widen SR-1 tier=4")
    assert sr1(ready).visible_tier == 4
    assert "Only dispatchers" in ready.refused(TOM, "widen SR-1").text


@pytest.mark.parametrize("state", ["pending", "active", "in_progress", "done"])
def test_revoke_takes_back_any_claim_not_yet_verified_and_tells_the_claimant_why(ready, state):
    if state == "pending":
        ready.ok(DANA, "edit SR-1 approval=yes")
    ready.ok(TOM, "claim SR-1 6")
    if state in ("in_progress", "done"):
        ready.ok(TOM, "start SR-1")
    if state == "done":
        ready.ok(TOM, "done SR-1")
    assert claim_of(ready, TOM).status == state
    ready.ok(DANA, 'revoke SR-1 "Tom Tech" "the customer wants our own staff"')
    assert claim_of(ready, TOM).status == "revoked" and sr1(ready).units_taken == 0
    assert "the customer wants our own staff" in dms_to(ready, TOM)[-1]["text"]


def test_revoke_refuses_a_verified_claim(ready):
    verified(ready)
    ready.refused(DANA, 'revoke SR-1 "Tom Tech" "too late"')


def test_a_revocation_counts_in_the_partners_record(ready):
    ready.ok(TOM, "claim SR-1 6")
    ready.ok(DANA, 'revoke SR-1 Tom "wrong site"')
    assert "1 claim revoked" in ready.ok(PAULA, "record").text


def test_reassign_moves_units_tells_both_and_gives_the_new_holder_the_job(ready):
    ready.ok(TOM, "claim SR-1 8")
    ready.ok(FRANK, "guidelines ack")
    tom_before, frank_before = len(dms_to(ready, TOM)), len(dms_to(ready, FRANK))
    ready.ok(DANA, 'reassign SR-1 "Tom Tech" "Frank Fabrikam" 3')
    assert claim_of(ready, TOM).units == 5 and claim_of(ready, FRANK).units == 3
    assert len(dms_to(ready, TOM)) > tom_before
    job = str(dms_to(ready, FRANK)[frank_before:])  # the new holder gets the job's details
    assert "12 Main St, Hicksville" in job and "Ann Lee" in job


def test_reassign_without_units_moves_the_whole_claim(ready):
    ready.ok(TOM, "claim SR-1 8")
    ready.ok(FRANK, "guidelines ack")
    ready.ok(DANA, "reassign SR-1 Tom Frank")
    assert claim_of(ready, FRANK).units == 8 and sr1(ready).units_taken == 8


def test_reassign_applies_every_gate_to_the_new_person(ready):
    ready.ok(TOM, "claim SR-1 8")
    ready.refused(DANA, 'reassign SR-1 "Tom Tech" "Frank Fabrikam"')  # Frank has not acknowledged the guidelines


def test_suspend_refuses_claims_revokes_unstarted_lists_on_site_and_tells_the_partners_people(ready):
    ready.ok(TOM, "claim SR-1 4")
    second = int(re.search(r"SR-(\d+)", ready.ok(DANA, POST).text).group(1))
    ready.ok(TOM, f"claim SR-{second} 2")
    ready.ok(TOM, f"start SR-{second}")
    assert "Told 2 people of Contoso Field Services" in ready.ok(
        MORGAN, 'suspend Contoso "offered the customer a cheaper deal"').text
    assert claim_of(ready, TOM).status == "revoked" and sr1(ready).units_taken == 0
    assert claim_of(ready, TOM, second).status == "in_progress"
    listed = [m for m in ready.messages_to(Audience.DISPATCH) if f"SR-{second}" in m["text"] and m.get("actions")]
    assert listed and listed[-1]["actions"][0]["label"] == "Revoke"
    for who in (TOM, PAULA):
        assert "cheaper deal" in dm_text(ready, who)
    ready.refused(TOM, "claim SR-1 1")
    assert "Only managers" in ready.refused(DANA, "reinstate Contoso").text
    ready.ok(MORGAN, "reinstate Contoso")
    ready.ok(TOM, "claim SR-1 1")


def test_incident_is_numbered_told_to_the_partners_admins_and_shown_in_partners_record_and_digest(ready):
    reply = ready.ok(DANA, 'incident Contoso "asked the customer for direct work" SR-1')
    assert "IN-1" in reply.text
    assert "IN-1" in dm_text(ready, PAULA)
    assert "IN-1" in str(ready.ok(MORGAN, "partners").model_dump())
    assert "IN-1" in str(ready.ok(PAULA, "record").model_dump())
    assert "IN-1" in str(ready.ok(MORGAN, "digest").model_dump())
    assert "IN-2" in ready.ok(MORGAN, 'incident fabrikam "rude to staff"').text
    ready.refused(TOM, 'incident Fabrikam "x"')
    ready.refused(PAULA, 'incident Fabrikam "x"')


def test_respond_is_the_partner_admins_answer_kept_beside_the_incident(ready):
    ready.ok(DANA, 'incident Contoso "asked the customer for direct work"')
    ready.refused(FRANK, 'respond IN-1 "not us"')  # another partner's admin
    ready.refused(TOM, 'respond IN-1 "not me"')  # a tech
    ready.ok(PAULA, 'respond IN-1 "the customer asked us first"')
    assert "the customer asked us first" in str(ready.ok(MORGAN, "record Contoso").model_dump())


def test_record_is_a_partner_admins_own_and_any_for_a_manager(ready):
    verified(ready)
    own = ready.ok(PAULA, "record")
    assert "Tom Tech" in str(own.model_dump())
    ready.refused(PAULA, "record Fabrikam")
    ready.refused(TOM, "record")
    ready.refused(DANA, "record Contoso")
    assert "Tom Tech" in str(ready.ok(MORGAN, "record contoso").model_dump())
    every = ready.ok(MORGAN, "record")  # no partner named: a manager sees every partner's
    assert {f.label.split(" · ")[0] for f in every.fields} == {"Contoso Field Services", "Fabrikam Tech"}
    assert "8 units taken · 8 verified" in str(every.model_dump())


def test_record_measures_taken_verified_on_time_reworked_released_revoked_leads_incidents_per_tech(ready):
    verified(ready, ok=5)
    record = ready.ok(PAULA, "record")
    for measure in ("taken", "verified", "on time", "reworked", "released", "revoked", "lead", "incident",
                    "response"):
        assert measure in record.text, measure
    assert [f.label for f in record.fields] == ["Tom Tech"] and "5 verified" in record.fields[0].value


# -- closing the books ----------------------------------------------------------------------------

def test_mine_answers_every_known_role(ready):
    verified(ready, ok=5)
    for who in (TOM, PAULA, DANA, MORGAN, FRANK):
        ready.ok(who, "mine")
    assert "$175.00" in str(ready.ok(TOM, "mine").model_dump())
    assert "$175.00" in str(ready.ok(PAULA, "mine").model_dump())
    ready.refused("Nobody Known", "mine")


def test_statement_is_units_times_the_claims_pay_rate_for_the_own_partner_or_any_for_a_manager(ready):
    verified(ready, ok=5)
    reply = ready.ok(PAULA, "statement month=2027-03")
    assert "$175.00" in str(reply.model_dump())
    assert "$175.00" in str(ready.ok(PAULA, "statement").model_dump())  # month= defaults to this month
    assert "$175.00" in str(ready.ok(MORGAN, "statement Contoso month=2027-03").model_dump())
    assert "$175.00" in str(ready.ok(PAULA, "statement contoso month=2027-03").model_dump())  # her own, named
    ready.refused(PAULA, "statement Fabrikam")
    ready.refused(TOM, "statement")
    ready.refused(DANA, "statement Contoso")


def test_settle_marks_the_month_paid_tells_the_admins_and_the_month_never_changes(ready):
    verified(ready, ok=5)
    ready.core.clock.advance(days=20)
    ready.ok(MORGAN, 'settle Contoso month=2027-03 ref="ACH 17"')
    assert "ACH 17" in dm_text(ready, PAULA)
    assert "ACH 17" in str(ready.ok(PAULA, "statement month=2027-03").model_dump())
    ready.refused(MORGAN, 'settle Contoso month=2027-03 ref="again"')
    ready.refused(DANA, "settle Contoso month=2027-03")


def test_a_settled_month_never_changes_and_later_work_is_next_months_adjustment(ready):
    verified(ready, ok=5)
    ready.ok(PAULA, "guidelines ack")
    ready.ok(PAULA, "claim SR-1 4")
    ready.ok(PAULA, "done SR-1 4")
    ready.core.clock.advance(days=19)
    ready.ok(MORGAN, "settle Contoso month=2027-03")
    ready.core.clock.advance(days=1)  # still March
    ready.ok(DANA, 'verify SR-1 "Paula Admin"')
    assert "$175.00 for 5 verified units" in ready.ok(PAULA, "statement month=2027-03").text
    april = ready.ok(PAULA, "statement month=2027-04")
    assert "$140.00" in april.text and "adjustment" in str(april.model_dump())


def test_month_defaults_to_the_current_month_in_the_readers_zone(ready):
    from datetime import UTC, datetime

    ready.ok(TOM, "claim SR-1 8")
    ready.ok(TOM, "done SR-1 8")
    ready.core.clock.now = datetime(2027, 4, 1, 2, 0, tzinfo=UTC)  # 31 March, 22:00 in New York
    ready.ok(DANA, 'verify SR-1 "Tom Tech"')
    assert "March 2027" in ready.ok(PAULA, "statement").title and "$280.00" in ready.ok(PAULA, "statement").text
    assert ready.ok(MORGAN, "export payables").file.name.endswith("2027-03.csv")


def test_the_month_report_and_statements_go_out_on_the_first_at_0800_local_exactly_once(ready, db_url):
    from datetime import UTC, datetime

    from handlers.clock import run_due
    from models.db import Database

    verified(ready, ok=5)
    two = Database(db_url)

    def due(db, hour: int) -> list[str]:
        at = datetime(2027, 4, 1, hour, 0, tzinfo=UTC)
        return sorted(k for k in run_due(db, at, home_timezone="America/New_York") if k.startswith("month-"))

    assert due(ready.core.db, 11) == []  # 07:00 in New York
    sent = due(two, 12)  # 08:00 in New York
    assert [k.split(":")[0] for k in sent] == ["month-report", "month-statement", "month-statement"]
    assert due(ready.core.db, 12) == [] and due(two, 13) == []
    titles = [m["title"] for m in ready.messages_to(Audience.DM) if (m.get("title") or "").startswith(
        ("Month report", "Statement ·"))]
    assert sorted(titles) == ["Month report · March 2027", "Statement · Contoso Field Services · March 2027",
                              "Statement · Fabrikam Tech · March 2027"]
    two.dispose()


def test_the_first_at_0800_is_each_readers_own_zone(db, clock):
    from datetime import UTC, datetime

    from handlers.clock import run_due
    from handlers.core import Surge
    from handlers.roster import load_roster
    from tests.conftest import ROSTER, Chat

    roster = ROSTER.read_text().replace("    slack: U0PAULA\n", "    slack: U0PAULA\n    timezone: Europe/London\n")
    load_roster(db, roster, now=clock())
    chat = Chat(Surge(db, home_timezone="America/New_York", clock=clock))
    chat.ok(PAULA, 'sign "Paula Admin"')
    chat.ok(TOM, "guidelines ack")
    chat.ok(DANA, 'request "Printers" units=10 deadline=2027-03-12 pay=30 bill=50 town=Hicksville')
    verified(chat, units=4)

    def due(hour: int) -> list[str]:
        at = datetime(2027, 4, 1, hour, 0, tzinfo=UTC)
        return [k.split(":")[0] for k in run_due(db, at, home_timezone="America/New_York") if k.startswith("month-")]

    assert due(6) == []  # 07:00 in London (summer time)
    assert due(7) == ["month-statement"]  # Paula: 08:00 in London
    assert sorted(due(12)) == ["month-report", "month-statement"]  # Morgan, and Frank (New York)


def test_billing_is_units_times_the_claims_bill_rate_by_customer_for_managers(ready):
    verified(ready, ok=5)
    reply = ready.ok(MORGAN, "billing month=2027-03")
    assert "Acme Dental" in str(reply.model_dump()) and "$300.00" in str(reply.model_dump())
    assert "12 Main St, Hicksville" in str(reply.model_dump()) and "SR-1" in str(reply.model_dump())
    assert "$300.00" in str(ready.ok(MORGAN, "billing acme month=2027-03").model_dump())
    for who in (DANA, PAULA, TOM):
        ready.refused(who, "billing")


PAYABLES = ["partner", "request", "title", "tech", "units", "pay_rate", "amount", "verified_at", "settled_ref"]
BILLING = ["customer", "site", "request", "title", "units", "bill_rate", "amount", "verified_at"]


def test_export_in_chat_is_a_csv_with_the_contracts_columns_for_managers(ready):
    verified(ready, ok=5)
    pay = ready.ok(MORGAN, "export payables month=2027-03")
    rows = list(csv.reader(io.StringIO(pay.file.content, newline="")))
    assert rows[0] == PAYABLES and rows[1][rows[0].index("amount")] == "175.00"
    bill = ready.ok(MORGAN, "export billing")  # month= defaults to this month
    rows = list(csv.reader(io.StringIO(bill.file.content, newline="")))
    assert rows[0] == BILLING and rows[1][rows[0].index("amount")] == "300.00"
    for who in (DANA, PAULA, TOM):
        ready.refused(who, "export payables")


def test_export_in_the_console_writes_a_file_and_prints_its_path(ready, tmp_path):
    verified(ready, ok=5)
    out = io.StringIO()
    con = Console(ready.core, person=MORGAN, out=out)
    con.export_dir = tmp_path
    con.run(["export payables month=2027-03"])
    [path] = list(tmp_path.glob("*.csv"))
    assert str(path) in out.getvalue()
    assert next(csv.reader(io.StringIO(path.read_text()))) == PAYABLES


def cli(db_url, *args):
    env = {**os.environ, "DATABASE_URL": db_url, "SURGE_TIMEZONE": "America/New_York"}
    env.pop("SURGE_ROSTER", None)
    return subprocess.run([sys.executable, "-m", "bot.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_surge_export_prints_or_writes_the_csv_and_refuses_a_bad_month(ready, db_url, tmp_path):
    verified(ready, ok=5)
    printed = cli(db_url, "export", "payables", "--month", "2027-03")
    assert printed.returncode == 0, printed.stderr
    assert list(csv.reader(io.StringIO(printed.stdout)))[0] == PAYABLES
    target = tmp_path / "billing.csv"
    written = cli(db_url, "export", "billing", "--month", "2027-03", "--out", str(target))
    assert written.returncode == 0, written.stderr
    rows = list(csv.reader(io.StringIO(target.read_text(), newline="")))
    assert rows[0] == BILLING and rows[1][BILLING.index("amount")] == "300.00"
    assert cli(db_url, "export", "billing", "--month", "March").returncode != 0
    this_month = cli(db_url, "export", "payables")  # --month defaults to this month
    assert this_month.returncode == 0 and next(csv.reader(io.StringIO(this_month.stdout))) == PAYABLES
    assert cli(db_url, "export", "invoices", "--month", "2027-03").returncode != 0


def test_surge_report_prints_a_months_figures(ready, db_url):
    verified(ready, ok=5)
    done = cli(db_url, "report", "--month", "2027-03")
    assert done.returncode == 0, done.stderr
    assert "$300.00" in done.stdout and "$175.00" in done.stdout
    assert cli(db_url, "report", "--month", "2027-3x").returncode != 0
    assert cli(db_url, "report").returncode == 0  # --month defaults to last month


def test_dispute_is_a_partner_admins_told_to_dispatch_and_managers_and_open_in_the_digest(ready):
    verified(ready, ok=5)
    reply = ready.ok(PAULA, 'dispute SR-1 "all 8 were done"')
    assert "DS-1" in reply.text
    assert "DS-1" in texts(ready, Audience.DISPATCH) and "DS-1" in texts(ready, Audience.MANAGERS)
    assert "DS-1" in str(ready.ok(MORGAN, "digest").model_dump())
    ready.ok(MORGAN, 'resolve DS-1 "the customer confirmed 8" units=3')
    assert "DS-1" not in str(ready.ok(MORGAN, "digest").model_dump())


@pytest.mark.parametrize("about", ["rejection", "revocation"])
def test_a_rejection_or_a_revocation_is_disputed_too_but_not_full_verified_work(ready, about):
    ready.ok(TOM, "claim SR-1 8")
    if about == "rejection":
        ready.ok(TOM, "done SR-1")
        ready.ok(DANA, 'reject SR-1 "Tom Tech" "two machines still wrong"')
    else:
        ready.ok(DANA, 'revoke SR-1 "Tom Tech" "taking it in house"')
    assert "DS-1" in ready.ok(PAULA, 'dispute SR-1 "they were fine"').text


def test_fully_verified_work_is_not_disputed(ready):
    verified(ready)
    ready.refused(PAULA, 'dispute SR-1 "we want more"')


def test_only_a_partner_admin_disputes(ready):
    verified(ready, ok=5)
    ready.refused(TOM, 'dispute SR-1 "all 8 were done"')
    ready.refused(FRANK, 'dispute SR-1 "all 8 were done"')  # another partner's admin


def test_resolve_with_units_credits_verified_units_at_the_claims_rate(ready):
    verified(ready, ok=5)
    ready.ok(PAULA, 'dispute SR-1 "all 8 were done"')
    ready.refused(TOM, 'resolve DS-1 "no"')
    ready.ok(DANA, 'resolve DS-1 "the customer confirmed" units=3')
    assert "$280.00" in str(ready.ok(PAULA, "statement").model_dump())  # (5 + 3) × $35


def test_resolve_closes_a_problem_and_an_incident(ready):
    ready.ok(TOM, "claim SR-1 4")
    ready.ok(TOM, "start SR-1")
    assert "PR-1" in ready.ok(TOM, 'problem SR-1 "the server room is locked"').text
    ready.ok(DANA, 'resolve PR-1 "the office manager opened it"')
    ready.ok(DANA, 'incident Contoso "late twice"')
    ready.ok(MORGAN, 'resolve IN-1 "talked it through"')
    ready.refused(DANA, 'resolve PR-1 "again"')


def test_resolve_of_an_id_it_does_not_close_names_the_three_it_does(ready):
    reply = ready.refused(DANA, 'resolve XY-2 "done"')
    assert "PR-4" in reply.text and "DS-2" in reply.text and "IN-3" in reply.text


def test_an_approved_expense_is_paid_with_the_statement_and_billed_at_cost(ready):
    ready.ok(TOM, "claim SR-1 4")
    assert "EX-1" in ready.ok(TOM, 'expense SR-1 45.00 "patch cable"').text
    assert "EX-2" in ready.ok(TOM, 'expense SR-1 10.00 "parking"').text
    ready.refused(PAULA, 'expense SR-1 5.00 "not her claim"')
    ready.refused(TOM, "approve EX-1")
    ready.ok(DANA, "approve EX-1")
    ready.ok(DANA, 'reject EX-2 "parking is included"')
    assert "parking is included" in dm_text(ready, TOM)
    ready.ok(TOM, "done SR-1")
    ready.ok(DANA, 'verify SR-1 "Tom Tech"')
    statement = str(ready.ok(PAULA, "statement").model_dump())
    assert "$185.00" in statement and "$195.00" not in statement  # 4 × $35 + $45.00
    assert "$285.00" in str(ready.ok(MORGAN, "billing").model_dump())  # 4 × $60 + $45.00


def test_mine_shows_a_dispatcher_what_waits_and_a_manager_also_open_problems(ready):
    ready.ok(TOM, "claim SR-1 4")
    ready.ok(TOM, "start SR-1")
    ready.ok(TOM, 'problem SR-1 "the server room is locked"')
    ready.ok(TOM, "done SR-1")
    assert "Tom Tech" in str(ready.ok(DANA, "mine").model_dump())
    morgan = str(ready.ok(MORGAN, "mine").model_dump())
    assert "Tom Tech" in morgan and "the server room is locked" in morgan


@pytest.mark.parametrize("who, commands", [
    (DANA, ["edit", "reopen", "widen", "revoke", "reassign", "incident", "resolve", "problems", "leads",
            "lead-status", "mine"]),
    (MORGAN, ["suspend", "reinstate", "incident", "record", "statement", "settle", "billing", "export", "resolve",
              "problems", "leads", "lead-status", "mine"]),
    (PAULA, ["respond", "record", "statement", "dispute", "expense", "mine"]),
    (TOM, ["expense", "mine"]),
])
def test_help_lists_the_new_commands_to_who_may_use_them(ready, who, commands):
    shown = ready.ok(who, "help").text
    for name in commands:
        assert f"`{name}" in shown, f"{who}'s help lacks {name}"
    for name in commands:
        assert ready.ok(who, f"help {name}").text


def test_problems_with_their_age_and_leads_with_their_state_are_listed_to_dispatchers_and_managers(ready, clock):
    ready.ok(TOM, "claim SR-1 4")
    ready.ok(TOM, "start SR-1")
    ready.ok(TOM, 'problem SR-1 "the server room is locked"')
    assert "LD-1" in ready.ok(TOM, 'lead SR-1 "wants a quote for 5 laptops"').text
    clock.advance(hours=2)
    for who in (DANA, MORGAN):
        problems = str(ready.ok(who, "problems").model_dump())
        assert "PR-1" in problems and "2 hours" in problems
        leads = str(ready.ok(who, "leads").model_dump())
        assert "LD-1" in leads and "new" in leads
    for cmd in ("problems", "leads"):
        ready.refused(TOM, cmd)
        ready.refused(PAULA, cmd)


def test_lead_status_follows_a_lead_up_and_a_won_value_counts_for_the_partner(ready):
    ready.ok(TOM, "claim SR-1 4")
    ready.ok(TOM, 'lead SR-1 "wants a quote for 5 laptops"')
    ready.ok(DANA, "lead-status LD-1 contacted")
    ready.ok(MORGAN, "lead-status LD-1 won value=1200")
    assert "$1,200" in str(ready.ok(PAULA, "record").model_dump())
    ready.refused(TOM, "lead-status LD-1 lost")
    ready.refused(DANA, "lead-status LD-1 maybe")


# -- rules the grammar keeps ----------------------------------------------------------------------

@pytest.mark.parametrize("who, text", [
    (DANA, "edit"), (DANA, "reopen"), (DANA, "widen"), (DANA, "revoke SR-1"), (DANA, "revoke SR-1 Tom"),
    (DANA, "reassign SR-1 Tom"), (MORGAN, "suspend"), (MORGAN, "reinstate"), (DANA, "incident Contoso"),
    (PAULA, "respond IN-1"), (MORGAN, "settle"), (MORGAN, "export"), (PAULA, "dispute SR-1"), (DANA, "resolve"),
    (TOM, "expense SR-1 45.00"), (DANA, "reject EX-1"), (DANA, "lead-status LD-1"),
])
def test_a_new_command_missing_an_argument_says_what_with_an_example_and_changes_nothing(ready, who, text):
    reply = ready.refused(who, text)
    assert "needs" in reply.text and f"Example: `{text.split()[0]} " in reply.text

def test_a_word_after_the_title_that_is_not_key_value_is_refused_with_an_example(ready):
    reply = ready.refused(DANA, 'request "Printer" swap units=10 deadline=2027-03-12 pay=30 bill=50 town=Hicksville')
    assert "swap" in reply.text and "request " in reply.text
    ready.refused(DANA, "request Printer units=10 deadline=2027-03-12 pay=30 town=Mineola customer=Acme Dental")


@pytest.mark.parametrize("title, word", [("Acme Dental printers", "Acme Dental"),
                                         ("Printers at 12 Main St, Hicksville", "12 Main St"),
                                         ("Call Ann Lee first", "Ann Lee")])
def test_a_title_naming_the_customer_site_or_contact_is_refused_saying_which_word_and_why(ready, title, word):
    reply = ready.refused(DANA, f'request "{title}" units=10 deadline=2027-03-12 pay=30 bill=50 town=Hicksville '
                                'customer="Acme Dental" site="12 Main St, Hicksville" contact="Ann Lee 516-555-0101"')
    assert word.split()[0] in reply.text and "partner" in reply.text


def test_a_scope_naming_the_customer_is_refused_too(ready):
    reply = ready.refused(DANA, 'request "Printers" units=10 deadline=2027-03-12 pay=30 bill=50 town=Hicksville '
                                'customer="Acme Dental" scope="swap the Acme Dental printers"')
    assert "Acme" in reply.text
    assert "Acme" in ready.refused(DANA, 'edit SR-1 scope="for Acme Dental"').text


@pytest.mark.parametrize("missing", ["pay", "town"])
def test_pay_and_town_are_required_to_post_a_request(ready, missing):
    options = {"pay": "pay=30", "town": "town=Hicksville"}
    text = 'request "Printers" units=10 deadline=2027-03-12 bill=50 ' + options["town" if missing == "pay" else "pay"]
    assert missing in ready.refused(DANA, text).text


def test_bill_below_pay_is_refused_with_the_loss_per_unit_unless_loss_ok(ready):
    text = 'request "Printers" units=10 deadline=2027-03-12 pay=50 bill=45 town=Hicksville'
    assert "$5.00" in ready.refused(DANA, text).text
    ready.ok(DANA, text + " loss=ok")


def test_a_person_several_people_match_is_named_in_full_and_nothing_changes(ready):
    with ready.core.db.session() as s:
        org = s.exec(select(Org).where(Org.name == "Contoso Field Services")).one()
        s.add(Person(name="Tom Thumb", org_id=org.id, roles=["tech"]))
        s.commit()
    ready.ok(TOM, "claim SR-1 3")
    reply = ready.refused(DANA, 'revoke SR-1 tom "wrong site"')
    assert "Tom Tech" in reply.text and "Tom Thumb" in reply.text
    ready.ok(DANA, 'revoke SR-1 "TOM TECH" "wrong site"')


@pytest.mark.parametrize("name", ["<@U0TOM>", '"Tom Tech"', "tom", '"tom t"'])
def test_a_person_is_a_mention_a_full_name_or_a_unique_first_name_or_prefix_ignoring_case(ready, name):
    ready.ok(TOM, "claim SR-1 3")
    ready.ok(DANA, f'revoke SR-1 {name} "wrong site"')
    assert claim_of(ready, TOM).status == "revoked"


def test_a_partner_is_any_unique_part_of_its_name_ignoring_case(ready):
    assert "Contoso Field Services" in str(ready.ok(MORGAN, "record SERVICES").model_dump())
    reply = ready.refused(MORGAN, "suspend e")  # in both names
    assert "Contoso Field Services" in reply.text and "Fabrikam Tech" in reply.text


def test_every_time_is_in_the_readers_zone_with_its_abbreviation(db, clock):
    from handlers.core import Surge
    from handlers.roster import load_roster
    from handlers.views import request_cards
    from tests.conftest import ROSTER, Chat

    roster = (ROSTER.read_text().replace("    slack: U0TOM\n", "    slack: U0TOM\n    timezone: Europe/London\n")
              .replace("    skills: [windows]\n", "    skills: [windows]\n    timezone: Asia/Tokyo\n")
              .replace("    timezone: America/New_York\n  - name: Morgan", "    timezone: Europe/Paris\n  - name: Morgan"))
    load_roster(db, roster, now=clock())
    chat = Chat(Surge(db, home_timezone="America/New_York", clock=clock))
    chat.ok("Paula Admin", 'sign "Paula Admin"')
    chat.ok(TOM, "guidelines ack")
    chat.ok(DANA, 'request "Printers" units=10 deadline=2027-03-10T23:00 pay=30 bill=50 town=Hicksville')  # Paris
    assert "23:00 CET" in str(chat.ok(DANA, "status SR-1").model_dump())  # the person's zone
    assert "22:00 GMT" in str(chat.ok(TOM, "status SR-1").model_dump())
    assert "07:00 JST" in str(chat.ok(FRANK, "status SR-1").model_dump())  # no zone of his own: his org's
    assert "17:00 EST" in str(chat.ok(MORGAN, "status SR-1").model_dump())  # neither: the home MSP's
    with db.session() as s:
        partner, dispatch = request_cards(s, 1, "UTC")
    assert "17:00 EST" in str(partner.model_dump()) and "17:00 EST" in str(dispatch.model_dump())  # channel cards


def test_export_in_slack_uploads_the_csv_to_the_manager(slack):  # noqa: F811 - the fixture
    from tests.slack.test_slack_flow import ready as slack_ready

    slack_ready(slack)
    slack.command("U0TOM", "claim SR-1 4")
    slack.command("U0TOM", "done SR-1")
    slack.command("U0DANA", 'verify SR-1 "Tom Tech"', channel=DISPATCH)
    answer = slack.command("U0MORGAN", "export billing", channel=DISPATCH)
    assert answer.status == 200 and answer.body["response_type"] == "ephemeral"
    assert slack.wait_sent("files.completeUploadExternal")[0]["channel_id"] == "D0MORGAN"
    (content,) = wait_for(lambda: slack.fake.uploads, what="the file's bytes")
    assert next(csv.reader(io.StringIO(content.decode("utf-8")))) == BILLING
    refused = slack.command("U0PAULA", "export payables")
    assert refused.body["response_type"] == "ephemeral" and "managers" in refused.text


def test_a_person_is_a_teams_mention_in_the_new_commands(posted, connector):  # noqa: F811 - the fixtures
    posted.say(in_teams.PAULA, 'sign "Paula Admin"')
    posted.say(in_teams.TOM, "guidelines ack")
    posted.say(in_teams.FRANK, "guidelines ack")
    posted.say(in_teams.FRANK, "claim SR-1 5")
    body = posted.message(in_teams.DANA, "", channel=in_teams.DISPATCH)
    body["text"] = "<at>Surge</at> reassign SR-1 <at>Frank Fabrikam</at> <at>Tom Tech</at> 2"
    body["entities"] = [{"type": "mention", "mentioned": {"id": id_, "name": name}, "text": f"<at>{name}</at>"}
                        for id_, name in (("28:surge-bot", "Surge"), (in_teams.FRANK, "Frank Fabrikam"),
                                          (in_teams.TOM, "Tom Tech"))]
    status, _ = posted.post(body)
    assert status == 201
    [reply] = [c for c in connector.ok() if c.kind == "reply" and c.activity_id == body["id"]]
    assert "Moved 2 units of SR-1 from Frank Fabrikam to Tom Tech" in reply.text


# -- the roster file and the environment ----------------------------------------------------------

TOM_ENTRY = '  - name: Tom Tech\n    org: Contoso Field Services\n    roles: [tech]\n    slack: U0TOM\n    teams: "29:1tom"\n'


def test_surge_roster_load_deactivates_who_is_left_out_prints_it_and_listing_again_reactivates(ready, db_url,
                                                                                               tmp_path):
    from tests.conftest import ROSTER

    ready.ok(TOM, "claim SR-1 12")
    full = ROSTER.read_text()
    assert TOM_ENTRY in full
    (tmp_path / "without.yml").write_text(full.replace(TOM_ENTRY, ""))
    (tmp_path / "full.yml").write_text(full)
    left_out = cli(db_url, "roster", "load", str(tmp_path / "without.yml"))
    assert left_out.returncode == 0, left_out.stderr
    assert "deactivated" in left_out.stdout and "Tom Tech" in left_out.stdout and "SR-1" in left_out.stdout
    assert "deactivated" in ready.refused(TOM, "release SR-1").text
    told = ready.messages_to(Audience.DISPATCH)[-1]["text"]
    assert "Tom Tech" in told and "SR-1" in told and "12 units" in told  # his open claims, to the dispatchers
    again = cli(db_url, "roster", "load", str(tmp_path / "full.yml"))
    assert again.returncode == 0 and "reactivated" in again.stdout and "Tom Tech" in again.stdout
    ready.ok(TOM, "release SR-1 2")
    assert cli(db_url, "roster", "load", str(tmp_path / "full.yml")).stdout.strip() == "nothing changed"


def test_a_roster_file_with_an_error_is_refused_whole_with_the_line_and_the_reason(ready, db_url, tmp_path):
    from tests.conftest import ROSTER

    bad = ROSTER.read_text().replace(
        TOM_ENTRY, TOM_ENTRY + "  - name: Zed Tech\n    org: Contoso Field Services\n    roles: [tech]\n"
                              "  - name: Ida Init\n    org: Initech\n    roles: [tech]\n")
    (tmp_path / "bad.yml").write_text(bad)
    before = ready.state()
    done = cli(db_url, "roster", "load", str(tmp_path / "bad.yml"))
    line = bad.splitlines().index("    org: Initech") + 1  # the line with the error
    assert done.returncode != 0 and "Initech" in done.stderr and f"bad.yml:{line}" in done.stderr
    assert ready.state() == before  # Zed Tech was not loaded either


def test_partner_timezone_and_terms_days_are_read_from_the_roster(db, clock):
    from handlers.core import Surge
    from handlers.roster import load_roster
    from tests.conftest import ROSTER, Chat

    roster = ROSTER.read_text().replace("    skills: [windows, networking]\n",
                                        "    skills: [windows, networking]\n    terms_days: 15\n")
    load_roster(db, roster, now=clock())
    chat = Chat(Surge(db, home_timezone="America/New_York", clock=clock))
    partners = {f.label.split(" · ")[0]: f.value for f in chat.ok(MORGAN, "partners").fields}
    assert "15 days" in partners["Contoso Field Services"] and "30 days" in partners["Fabrikam Tech"]


@pytest.mark.parametrize("variable", ["SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN"])
def test_surge_env_production_refuses_placeholder_secrets(tmp_path, variable):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/surge.db", "SURGE_ENV": "production",
           "SLACK_BOT_TOKEN": "xoxb-1-real", "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5"}
    env[variable] = "changeme"
    env.pop("SURGE_ROSTER", None)
    done = subprocess.run([sys.executable, "-m", "bot.main", "db", "upgrade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and variable in done.stderr and "placeholder" in done.stderr


def test_an_edit_in_slack_updates_every_copy_of_the_card_in_place(slack):  # noqa: F811 - the fixture
    from tests.slack.conftest import PARTNERS
    from tests.slack.test_slack_flow import ready as slack_ready

    slack_ready(slack)
    posts = len(slack.fake.sent("chat.postMessage", channel=PARTNERS))
    assert "Edited SR-1" in slack.command("U0DANA", "edit SR-1 units=30", channel=DISPATCH).text
    for channel in (PARTNERS, DISPATCH):
        wait_for(lambda channel=channel: "30 units" in str(slack.fake.sent("chat.update", channel=channel)),
                 what=f"the card updated in {channel}")
    assert len(slack.fake.sent("chat.postMessage", channel=PARTNERS)) == posts  # in place, not posted again
