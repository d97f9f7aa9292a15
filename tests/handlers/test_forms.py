"""The forms, platform-neutral: what a request, sign, claim-some or reject form says, field by field,
and the error shown beside each field that is wrong."""
from __future__ import annotations

from handlers.forms import (
    FormField,
    quoted,
    reason_from_fields,
    request_from_fields,
    signature_from_fields,
    units_from_fields,
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
    cmd, errors = request_from_fields({"title": "Patch", "units": "5", "deadline": "2027-03-08", "pay": "35",
                                       "town": "Mineola", "approval": None})
    assert errors == {} and cmd.deadline.isoformat() == "2027-03-08T17:00:00"  # 17:00 when no time is given
    assert (cmd.minutes, cmd.bill, cmd.tier, cmd.approval, cmd.skills) == (30, 0, 1, False, [])


def test_a_request_form_needs_the_pay_and_the_town_partners_decide_on():
    cmd, errors = request_from_fields({"title": "Patch", "units": "5", "deadline": "2027-03-08"})
    assert cmd is None and set(errors) == {FormField.PAY, FormField.TOWN}
    assert "pay=" in errors[FormField.PAY] and "town=" in errors[FormField.TOWN]


def test_a_request_form_with_a_bill_below_the_pay_is_refused_beside_the_bill():
    cmd, errors = request_from_fields({**FULL, "pay": "40", "bill": "30"})
    assert cmd is None and set(errors) == {FormField.BILL}
    assert "loses $10.00" in errors[FormField.BILL] and "by text with loss=ok" in errors[FormField.BILL]


def test_a_request_form_whose_title_or_scope_names_the_customer_site_or_contact_is_refused_beside_it():
    cmd, errors = request_from_fields({**FULL, "title": "Acme patch", "scope": "ask Ann Lee at the desk"})
    assert cmd is None and set(errors) == {FormField.TITLE, FormField.SCOPE}
    assert "“Acme”" in errors[FormField.TITLE] and "customer" in errors[FormField.TITLE]
    assert "“Ann Lee”" in errors[FormField.SCOPE] and "contact" in errors[FormField.SCOPE]


def test_a_request_form_strips_invisible_characters_and_refuses_broken_text():
    cmd, errors = request_from_fields({**FULL, "title": "Swap\u202e printers\u200b", "town": "\ufeffMineola"})
    assert errors == {} and (cmd.title, cmd.town) == ("Swap printers", "Mineola")
    cmd, errors = request_from_fields({**FULL, "scope": "two floors \ud800"})
    assert cmd is None and "broken character" in errors[FormField.SCOPE]


def test_a_request_form_refuses_zero_in_any_script_and_dates_far_out():
    cmd, errors = request_from_fields({**FULL, "units": "٠", "tier": "０", "minutes": "۰", "deadline": "9999-12-31"})
    assert cmd is None and set(errors) == {FormField.UNITS, FormField.TIER, FormField.MINUTES, FormField.DEADLINE}
    assert "above 0" in errors[FormField.UNITS] and "between 2000 and 2100" in errors[FormField.DEADLINE]


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
    assert "whole number above 0" in units_from_fields({"units": "٠"})[1][FormField.UNITS]
    assert units_from_fields({"units": "١٢"}) == (12, {})
    assert reason_from_fields({"why": " missed two PCs "}) == ("missed two PCs", {})
    assert reason_from_fields({"why": "x" * 5000})[0] == "x" * 1000
    assert FormField.WHY in reason_from_fields({"why": ""})[1]
    assert quoted('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'
