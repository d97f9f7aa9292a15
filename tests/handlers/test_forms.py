"""The forms, platform-neutral: what a request, sign, claim-some or reject form says, field by field,
and the error shown beside each field that is wrong."""
from __future__ import annotations

from handlers.forms import (
    FormField, quoted, reason_from_fields, request_from_fields, signature_from_fields, units_from_fields,
)

FULL = {"title": " Swap printers ", "units": "20", "deadline": "2027-03-08", "deadline_time": "09:30",
        "pay": "$35.50", "bill": "60", "skills": "Windows, printers", "scope": "two floors", "town": "Mineola",
        "customer": "Acme Dental", "site": "12 Main St", "contact": "Ann Lee", "approval": "yes", "tier": "2"}


def test_a_filled_request_form_is_the_request_it_describes():
    cmd, errors = request_from_fields(FULL)
    assert errors == {}
    assert (cmd.title, cmd.units, cmd.pay, cmd.bill) == ("Swap printers", 20, 3550, 6000)
    assert (cmd.tier, cmd.approval) == (2, True)
    assert cmd.skills == ["windows", "printers"] and cmd.deadline.isoformat() == "2027-03-08T09:30:00"
    assert (cmd.customer, cmd.site, cmd.contact, cmd.town) == ("Acme Dental", "12 Main St", "Ann Lee", "Mineola")


def test_the_smallest_request_form_takes_the_defaults():
    cmd, errors = request_from_fields({"title": "Patch", "units": "5", "deadline": "2027-03-08", "approval": None})
    assert errors == {} and cmd.deadline.isoformat() == "2027-03-08T17:00:00"  # 17:00 when no time is given
    assert (cmd.minutes, cmd.pay, cmd.tier, cmd.approval, cmd.skills) == (30, 0, 1, False, [])


def test_every_wrong_field_gets_its_own_error():
    cmd, errors = request_from_fields({"title": "  ", "units": "-3", "pay": "lots", "tier": "12", "minutes": "0",
                                       "deadline": "2027-02-30"})
    assert cmd is None
    assert set(errors) == {FormField.TITLE, FormField.UNITS, FormField.PAY, FormField.TIER, FormField.MINUTES,
                           FormField.DEADLINE}
    assert errors[FormField.TITLE] == "Give the request a title."
    assert "whole number above 0" in errors[FormField.UNITS] and "dollars" in errors[FormField.PAY]
    assert errors[FormField.TIER] == "Tier must be between 1 and 9."
    assert errors[FormField.DEADLINE] == "Pick a date and a time."
    _, errors = request_from_fields({"title": "x" * 151, "units": "1"})
    assert "150" in errors[FormField.TITLE] and errors[FormField.DEADLINE] == "Pick the deadline."


def test_sign_form_needs_the_name_and_the_tick():
    assert signature_from_fields({"name": " Paula Admin ", "agree": "agree"}) == ("Paula Admin", {})
    name, errors = signature_from_fields({"name": "", "agree": None})
    assert name is None
    assert errors == {FormField.NAME: "Type your full name to sign.", FormField.AGREE: "Tick “I agree” to sign."}


def test_claim_some_and_reject_forms():
    assert units_from_fields({"units": "12"}) == (12, {})
    assert units_from_fields({}) == (None, {FormField.UNITS: "How many units?"})
    assert "whole number above 0" in units_from_fields({"units": "0"})[1][FormField.UNITS]
    assert reason_from_fields({"why": " missed two PCs "}) == ("missed two PCs", {})
    assert reason_from_fields({"why": "x" * 5000})[0] == "x" * 1000
    assert FormField.WHY in reason_from_fields({"why": ""})[1]
    assert quoted('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'
