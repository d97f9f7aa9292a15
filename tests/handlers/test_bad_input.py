"""What people really type, and what a hostile or broken client sends: every one gets a clear answer
and changes nothing (`chat.refused` proves it), and nothing invisible reaches a partner card."""
from __future__ import annotations

import unicodedata

import pytest
from sqlmodel import select

from handlers.views import request_cards
from models.tables import Claim, SurgeRequest

DANA, TOM, MORGAN = "Dana Dispatch", "Tom Tech", "Morgan Manager"
POST = 'request "Printer swap" units=10 deadline=2027-03-10 pay=35 town=Mineola'


def stored(chat, model):
    with chat.core.db.session() as s:
        return list(s.exec(select(model).order_by(model.id)).all())


def claimed(chat, request_id: int = 1) -> int:
    return next(r for r in stored(chat, SurgeRequest) if r.id == request_id).units_taken


# -- titles and scopes go to partners: no customer, site or contact in them ---------------------------

@pytest.mark.parametrize(("options", "word", "field"), [
    ('"Acme patch" customer="Acme Dental"', "“Acme”", "customer"),
    ('"ACME DENTAL rollout" customer="Acme Dental"', "“Acme Dental”", "customer"),
    ('"Patch" scope="start on Elm Street, 2nd floor" site="12 Elm Street"', "“Elm Street”", "site"),
    ('"Patch" scope="call Ann Lee when you arrive" contact="Ann Lee 516-555-0101"', "“Ann Lee”", "contact"),
    ('"Patch" scope="ring 516-555-0101" contact="Ann Lee 516-555-0101"', "“516-555-0101”", "contact"),
    ('"Brightwater rollout" site="Brightwater Plaza, Suite 4"', "“Brightwater”", "site"),
])
def test_a_title_or_scope_naming_the_customer_site_or_contact_is_refused(chat, options, word, field):
    reply = chat.refused(DANA, f"request {options} units=4 deadline=2027-03-10 pay=35 town=Mineola")
    assert f"can't contain {word}" in reply.text
    assert field in reply.text and "go to every partner" in reply.text  # which word, and why
    assert "common words like Main, Street, Office, Suite" in reply.text  # the rule, said once


def test_a_town_naming_the_customer_is_refused(chat):
    reply = chat.refused(DANA, 'request "Patch" units=4 deadline=2027-03-10 pay=35 town="Acme Dental HQ" '
                               'customer="Acme Dental"')
    assert "The town can't contain “Acme Dental”: it is the customer" in reply.text


@pytest.mark.parametrize("options", [
    '"DST patch, Main St office" customer="Acme Dental" site="12 Main St, Hicksville" town=Hicksville',
    '"Hicksville dental office patch" customer="Acme Dental" site="40 Main Street, Hicksville" town=Hicksville',
    '"Patch 12 PCs" site="12 Elm Street" town=Mineola',
    '"Acmeology patch" customer="Acme" town=Mineola',
])
def test_common_words_numbers_and_the_town_may_appear_in_a_title(chat, options):
    chat.ok(DANA, f"request {options} units=4 deadline=2027-03-10 pay=35")


# -- values with spaces are quoted; pay and town are required; no loss by accident ------------------

def test_an_unquoted_title_is_refused_with_the_quoted_one(chat):
    reply = chat.refused(DANA, "request DST patch Acme units=120 deadline=2027-03-10 pay=35 town=Mineola")
    assert "doesn't know what to do with “patch Acme”" in reply.text
    assert 'A value with spaces must be quoted: "DST patch Acme"' in reply.text
    assert "Example: `request " in reply.text


def test_an_unquoted_town_is_refused_never_glued_onto_the_title(chat):
    reply = chat.refused(DANA, 'request "Patch" units=4 deadline=2027-03-10 pay=35 town=Oyster Bay')
    assert "doesn't know what to do with “Bay”" in reply.text
    assert 'town="Oyster Bay"' in reply.text
    chat.ok(DANA, 'request "Patch" units=4 deadline=2027-03-10 pay=35 town="Oyster Bay"')
    assert [(r.title, r.town) for r in stored(chat, SurgeRequest)] == [("Patch", "Oyster Bay")]


@pytest.mark.parametrize(("text", "says"), [
    ('request "Patch" units=4 deadline=2027-03-10 town=Mineola', "A request needs pay=…"),
    ('request "Patch" units=4 deadline=2027-03-10 pay=0 town=Mineola', "A request needs pay=… above $0"),
    ('request "Patch" units=4 deadline=2027-03-10 pay=35', "A request needs town=…"),
    ('request "Patch" units=4 deadline=2027-03-10 pay=35 town=""', "Town cannot be empty"),
])
def test_pay_and_town_are_required(chat, text, says):
    reply = chat.refused(DANA, text)
    assert says in reply.text


def test_a_bill_below_the_pay_is_refused_with_the_loss_unless_loss_is_ok(chat):
    text = 'request "Patch" units=4 deadline=2027-03-10 pay=35 bill=30 town=Mineola'
    reply = chat.refused(DANA, text)
    assert "every unit loses $5.00" in reply.text and "loss=ok" in reply.text
    assert "loss takes one value, ok" in chat.refused(DANA, text + " loss=maybe").text
    posted = chat.ok(DANA, text + " loss=ok")
    assert "loses $5.00" in posted.text
    assert [r.bill_cents for r in stored(chat, SurgeRequest)] == [3000]


# -- numbers are read once, as numbers -------------------------------------------------------------

ZEROS = ["0", "٠", "۰", "０", "00٠", "߀"]


@pytest.mark.parametrize("zero", ZEROS)
def test_zero_in_any_script_claims_nothing(ready, zero):
    reply = ready.refused(TOM, f"claim SR-1 {zero}")
    assert "Units must be a whole number above 0" in reply.text and f"“{zero}”" in reply.text
    assert claimed(ready) == 0


@pytest.mark.parametrize("zero", ZEROS)
def test_zero_in_any_script_releases_reports_and_verifies_nothing(ready, zero):
    ready.ok(TOM, "claim SR-1 10")
    assert "above 0" in ready.refused(TOM, f"release SR-1 {zero}").text
    assert "above 0" in ready.refused(TOM, f"done SR-1 {zero}").text
    ready.ok(TOM, "done SR-1 10")
    assert "above 0" in ready.refused(DANA, f"verify SR-1 Tom {zero}").text
    assert [(c.units, c.status) for c in stored(ready, Claim)] == [(10, "done")]


@pytest.mark.parametrize(("who", "text"), [
    (DANA, "capacity units=600 minutes=٠ techs=8 hours=6 by=2027-03-10"),
    (DANA, "capacity units=600 minutes=30 techs=０ hours=6 by=2027-03-10"),
    (DANA, 'request "Patch" units=4 deadline=2027-03-10 pay=35 town=Mineola minutes=٠'),
    (DANA, 'request "Patch" units=4 deadline=2027-03-10 pay=35 town=Mineola tier=٠'),
    (DANA, 'request "Patch" units=4 deadline=2027-03-10 pay=35 town=Mineola delay=۰'),
    (DANA, 'request "Patch" units=۰ deadline=2027-03-10 pay=35 town=Mineola'),
])
def test_zero_minutes_techs_tiers_and_delays_are_refused_not_a_crash(chat, who, text):
    reply = chat.refused(who, text)
    assert "must be a whole number above 0" in reply.text
    assert "Something went wrong" not in reply.text


def test_digits_of_other_scripts_are_read_as_the_numbers_they_are(ready):
    assert "3 units" in ready.ok(TOM, "claim SR-١ ٣").text
    assert claimed(ready) == 3


# -- dates within reason; text that is text ------------------------------------------------------

@pytest.mark.parametrize(("who", "text"), [
    (DANA, 'request "Patch" units=4 deadline=9999-12-31T23:59 pay=35 town=Mineola'),
    (DANA, 'request "Patch" units=4 deadline=9999-12-31 pay=35 town=Mineola'),
    (DANA, 'request "Patch" units=4 deadline=2027-03-10 start=9999-12-31T23:59 pay=35 town=Mineola'),
    (DANA, 'request "Patch" units=4 deadline=0001-01-01T00:00 pay=35 town=Mineola'),
    (DANA, "capacity units=600 minutes=30 techs=8 hours=6 by=9999-12-31T23:59"),
    (DANA, "capacity units=600 minutes=30 techs=8 hours=6 by=1999-12-31"),
    (MORGAN, "digest date=0001-01-01"),
])
def test_dates_out_of_any_plan_are_refused_not_a_crash(chat, who, text):
    reply = chat.refused(who, text)
    assert "between 2000 and 2100" in reply.text
    assert "Something went wrong" not in reply.text


@pytest.mark.parametrize(("who", "text"), [
    (DANA, 'request "Patch \ud800" units=4 deadline=2027-03-10 pay=35 town=Mineola'),
    (DANA, 'request "Patch" units=4 deadline=2027-03-10 pay=35 town="Mine\udfffola"'),
    (MORGAN, 'vet "Contoso\ud800" quality=5 commitment=4 track=4 reputation=5 credit=4 rapport=5'),
    (MORGAN, "suspend Contoso \udc00"),
    (TOM, 'problem SR-1 "server \ud83d down"'),
    (TOM, "\ud800"),
])
def test_a_lone_surrogate_is_refused_with_an_answer_that_can_be_sent(ready, who, text):
    reply = ready.refused(who, text)
    assert "broken character" in reply.text and "Something went wrong" not in reply.text
    reply.model_dump_json().encode("utf-8")  # an answer every platform can carry (no lone surrogate echoed)


# -- nothing invisible reaches a partner card -----------------------------------------------------

INVISIBLE = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
             "\u200b", "\u200c", "\u200e", "\u200f", "\ufeff", "\u2060", "\u00ad", "\u061c"]


def invisible_in(text: str) -> list[str]:
    return sorted({f"U+{ord(ch):04X}" for ch in text if unicodedata.category(ch) == "Cf" and ch != "\u200d"}
                  | {f"U+{ord(ch):04X}" for ch in text if ch in INVISIBLE})


def test_format_characters_never_reach_a_partner_card(chat):
    mark = "".join(INVISIBLE)
    chat.ok(DANA, f'request "Printer{mark} swap \u202egnp.exe" units=10 deadline=2027-03-10 pay=35 '
                  f'town="Mine\u200bola\u202e" scope="two\u2066 floors\ufeff" skills=win\u200bdows,print\u00aders')
    chat.ok(DANA, 'cancel SR-1 "customer\u202e postponed\u200f"')
    req = stored(chat, SurgeRequest)[0]
    assert (req.title, req.town, req.scope, req.skills, req.status_reason) == (
        "Printer swap gnp.exe", "Mineola", "two floors", ["windows", "printers"], "customer postponed")
    with chat.core.db.session() as s:
        partner, dispatch = request_cards(s, req.id, "America/New_York")
    assert invisible_in(partner.model_dump_json()) == [] and invisible_in(dispatch.model_dump_json()) == []
    assert [row.payload for row in chat.outbox() if row.kind == "card"] == [
        {"request_id": 1, "change": "post"}, {"request_id": 1, "change": "update"}]  # rendered from the row above
    for row in chat.outbox():
        assert invisible_in(str(row.payload)) == [], row.payload


def test_emoji_sequences_keep_their_joiners(chat):
    chat.ok(DANA, 'request "Fix 👩\u200d🔧 and 🏳\ufe0f\u200d🌈" units=1 deadline=2027-03-10 pay=35 town=Mineola')
    assert stored(chat, SurgeRequest)[0].title == "Fix 👩\u200d🔧 and 🏳\ufe0f\u200d🌈"
