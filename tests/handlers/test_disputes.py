"""Disputes, payment terms and expenses, as the partner and the home MSP see them.

Figures by hand: SR-1 pays $35 and bills $60 a unit. Tom (Contoso) claims 8, reports 8, and 5 are
verified on 1 March: $175.00 owed. A dispute resolved with units=2 credits 2 × $35 = $70.00 to the
statement of the month it is resolved in. Contoso is paid 30 days after verification (the default).
"""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from handlers.roster import RosterError, load_roster
from handlers.types import Audience
from models.ledger import Dispute, Expense
from models.tables import AuditEntry
from tests.conftest import ROSTER

DANA, MORGAN, PAULA, TOM, FRANK = "Dana Dispatch", "Morgan Manager", "Paula Admin", "Tom Tech", "Frank Fabrikam"


def short_verified(chat) -> None:
    chat.ok(TOM, "claim SR-1 8")
    chat.ok(TOM, "done SR-1 8")
    chat.ok(DANA, 'verify SR-1 "Tom Tech" 5')


def test_a_partner_admin_disputes_a_short_verification_and_dispatch_and_managers_are_told(ready):
    short_verified(ready)
    reply = ready.ok(PAULA, 'dispute SR-1 "all 8 were patched; the customer confirmed"')
    assert "DS-1" in reply.text and "short verification" in reply.text
    for audience in (Audience.DISPATCH, Audience.MANAGERS):
        (told,) = [m for m in ready.messages_to(audience) if "DS-1" in (m.get("title") or "")]
        assert "reported 8, verified 5" in told["text"] and "resolve DS-1" in told["text"]
    with ready.core.db.session() as s:
        (d,) = s.exec(select(Dispute)).all()
        assert (d.about, d.resolved_at) == ("short", None)
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "dispute.raised")).first() is not None


def test_a_rejection_and_a_revocation_can_be_disputed(ready):
    ready.ok(TOM, "claim SR-1 8")
    ready.ok(TOM, "done SR-1 8")
    ready.ok(DANA, 'reject SR-1 "Tom Tech" "two machines still wrong"')
    assert "rejection" in ready.ok(PAULA, 'dispute SR-1 "they were fine"').text
    ready.ok(DANA, 'revoke SR-1 "Tom Tech" "taking it in house"')
    ready.refused(PAULA, 'dispute SR-1 "again"')  # one open dispute per claim
    ready.ok(DANA, 'resolve DS-1 "agreed, it was rejected wrongly"')
    assert "revocation" in ready.ok(PAULA, 'dispute SR-1 "we had started"').text


def test_work_that_was_not_rejected_revoked_or_short_cannot_be_disputed(ready):
    ready.ok(TOM, "claim SR-1 8")
    ready.refused(PAULA, 'dispute SR-1 "nothing wrong yet"')  # active
    ready.ok(TOM, "done SR-1 8")
    ready.ok(DANA, 'verify SR-1 "Tom Tech"')  # all 8
    reply = ready.refused(PAULA, 'dispute SR-1 "all fine really"')
    assert "can be disputed" in reply.text


def test_another_partners_admin_cannot_dispute_and_a_tech_cannot_either(ready):
    short_verified(ready)
    assert "own company" in ready.refused(FRANK, 'dispute SR-1 "not ours"').text
    ready.refused(TOM, 'dispute SR-1 "I am only a tech"')


def test_resolving_a_dispute_credits_units_in_the_month_it_is_recorded(ready, clock):
    short_verified(ready)
    ready.ok(PAULA, 'dispute SR-1 "all 8 were patched"')
    ready.refused(DANA, 'resolve DS-1 "too many" units=4')  # at most 3 more than verified
    clock.now = datetime(2027, 4, 2, 15, 0, tzinfo=UTC)
    reply = ready.ok(DANA, 'resolve DS-1 "customer confirmed two more" units=2')
    assert "Credited 2 verified units at $35.00: $70.00" in reply.text
    told = [m for m in ready.messages_to(Audience.DM) if "DS-1 resolved" in (m.get("title") or "")]
    assert told and "$70.00" in told[0]["text"]
    assert "$175.00 for 5 verified units" in ready.ok(PAULA, "statement month=2027-03").text
    april = ready.ok(PAULA, "statement month=2027-04")
    assert "$70.00 for 2 verified units" in april.text
    assert "credit, DS-1" in april.fields[0].label
    assert "resolved already" in ready.refused(MORGAN, 'resolve DS-1 "again"').text
    assert "$120.00" in ready.ok(MORGAN, "billing month=2027-04").text  # 2 × $60


def test_a_credit_after_its_month_was_settled_is_the_next_months_adjustment(ready, clock):
    short_verified(ready)
    ready.ok(PAULA, 'dispute SR-1 "all 8 were patched"')
    ready.ok(MORGAN, 'settle Contoso month=2027-03 ref="ACH 1"')
    clock.now = datetime(2027, 3, 20, 15, 0, tzinfo=UTC)
    ready.ok(MORGAN, 'resolve DS-1 "fair" units=3')
    assert "$175.00 for 5 verified units" in ready.ok(PAULA, "statement month=2027-03").text
    april = ready.ok(PAULA, "statement month=2027-04")
    assert "$105.00 for 3 verified units" in april.text and "adjustment" in april.fields[0].value


def test_disputes_are_resolved_by_dispatchers_and_managers_only(ready):
    short_verified(ready)
    ready.ok(PAULA, 'dispute SR-1 "all 8 were patched"')
    ready.refused(PAULA, 'resolve DS-1 "we say so" units=3')
    ready.refused(DANA, 'resolve DS-9 "no such"')
    ready.ok(MORGAN, 'resolve DS-1 "checked: 5 is right"')
    with ready.core.db.session() as s:
        assert s.exec(select(Dispute)).one().units_credited == 0


def terms_roster(home_terms: str, contoso_terms: str) -> str:
    text = (ROSTER.read_text()
            .replace("  - name: Contoso Field Services\n", f"  - name: Contoso Field Services\n{contoso_terms}", 1)
            .replace("home:\n", f"home:\n{home_terms}", 1))
    assert text.count("terms_days") == bool(home_terms) + bool(contoso_terms)
    return text


def test_payment_terms_come_from_the_roster_and_show_on_partners_and_each_statement_line(ready, clock):
    short_verified(ready)  # verified 1 March
    partners = {f.label.split(" · ")[0]: f.value for f in ready.ok(MORGAN, "partners").fields}
    assert "paid 30 days after verification" in partners["Contoso Field Services"]  # the default
    assert "due 2027-03-31" in ready.ok(PAULA, "statement month=2027-03").fields[0].value
    load_roster(ready.core.db, terms_roster("  payment_terms_days: 45\n", "    terms_days: 15\n"), now=clock())
    partners = {f.label.split(" · ")[0]: f.value for f in ready.ok(MORGAN, "partners").fields}
    assert "paid 15 days after verification" in partners["Contoso Field Services"]
    assert "paid 45 days after verification" in partners["Fabrikam Tech"]  # the home's terms
    assert "due 2027-03-16" in ready.ok(PAULA, "statement month=2027-03").fields[0].value
    before = ready.state()
    load_roster(ready.core.db, terms_roster("  payment_terms_days: 45\n", "    terms_days: 15\n"), now=clock())
    assert ready.state() == before  # loading the same file twice changes nothing


def test_bad_payment_terms_refuse_the_whole_roster(ready, clock):
    before = ready.state()
    with pytest.raises(RosterError):
        load_roster(ready.core.db, terms_roster("", '    terms_days: "soon"\n'), now=clock())
    assert ready.state() == before


def test_an_approved_expense_is_paid_with_the_statement_and_billed_at_cost(ready):
    short_verified(ready)
    reply = ready.ok(TOM, 'expense SR-1 45.10 "patch cable"')
    assert "EX-1" in reply.text and "$45.10" in reply.text
    (asked,) = [m for m in ready.messages_to(Audience.DISPATCH) if "EX-1" in (m.get("title") or "")]
    assert "approve EX-1" in asked["text"]
    assert "$175.00 for 5" in ready.ok(PAULA, "statement month=2027-03").text  # not yet approved
    ready.ok(DANA, "approve EX-1")
    with ready.core.db.session() as s:
        assert (s.exec(select(Expense)).one().amount_cents) == 4510  # exact cents
    march = ready.ok(PAULA, "statement month=2027-03")
    assert "$220.10" in march.text
    assert any("expense: patch cable" in f.label and "$45.10" in f.value for f in march.fields)
    assert "$345.10" in ready.ok(MORGAN, "billing month=2027-03").text  # 5 × $60 + $45.10 at cost
    for what in ("payables", "billing"):
        rows = list(csv.DictReader(io.StringIO(ready.ok(MORGAN, f"export {what} month=2027-03").file.content)))
        (line,) = [r for r in rows if r["title"] == "expense: patch cable"]
        assert line["units"] == "1" and line["amount"] == "45.10"
    assert "approved already" in ready.refused(DANA, "approve EX-1").text


def test_a_rejected_expense_is_not_paid_and_the_claimant_is_told_why(ready):
    short_verified(ready)
    ready.ok(TOM, 'expense SR-1 12 "parking"')
    ready.ok(DANA, 'reject EX-1 "parking is in the rate"')
    told = [m for m in ready.messages_to(Audience.DM) if "parking is in the rate" in m["text"]]
    assert told
    assert "$175.00 for 5" in ready.ok(PAULA, "statement month=2027-03").text
    assert not any("parking" in f.label for f in ready.ok(PAULA, "statement month=2027-03").fields)


def test_expenses_are_refused_to_others_and_claim_approve_and_reject_still_work(ready):
    ready.ok(TOM, "claim SR-1 8")
    ready.refused(FRANK, 'expense SR-1 45 "not my claim"')
    ready.refused(TOM, 'expense SR-1 0 "nothing"')
    ready.refused(TOM, 'expense SR-1 12.345 "too precise"')
    ready.ok(TOM, 'expense SR-1 45 "patch cable"')
    ready.refused(TOM, "approve EX-1")  # dispatchers only
    ready.refused(DANA, "approve EX-9")
    ready.ok(DANA, 'edit SR-1 approval=yes')
    ready.ok(FRANK, "guidelines ack")
    ready.ok(FRANK, "claim SR-1 4")
    assert "Approved" in ready.ok(DANA, 'approve SR-1 "Frank Fabrikam"').text  # the claim commands as before
    ready.ok(TOM, "done SR-1 8")
    assert "Sent" in ready.ok(DANA, 'reject SR-1 "Tom Tech" "redo two"').text
    listed = ready.ok(DANA, "help").text
    assert "approve EX-4" in listed and "approve SR-7 <person>" in listed
