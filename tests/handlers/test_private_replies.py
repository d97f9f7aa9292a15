"""An answer that names a request's customer, site or contact says so (`Reply.private`), so an adapter
answering in a shared channel sends it to the sender alone; an answer a partner may read in a channel
names none of them and is not marked."""
from __future__ import annotations

import pytest

from handlers.home import home
from handlers.types import Action, ActionKind, Identity, Reply

DANA, TOM, PAULA, FRANK, MORGAN = "Dana Dispatch", "Tom Tech", "Paula Admin", "Frank Fabrikam", "Morgan Manager"
SECRETS = ["Acme Dental", "12 Main St", "Ann Lee", "516-555-0101"]  # SR-1 of the `ready` fixture


def names_private(reply: Reply) -> bool:
    shown = reply.model_dump_json(exclude={"messages"})  # the answer itself; messages carry their own mark
    return any(secret in shown for secret in SECRETS)


def private_answer(chat, who: str, text: str) -> Reply:
    reply = chat.ok(who, text)
    assert names_private(reply), f"{who}: {text!r} should show the customer, site or contact"
    assert reply.private, f"{who}: {text!r} names the customer, site or contact but is not marked private"
    return reply


def public_answer(chat, who: str, text: str) -> Reply:
    reply = chat.ok(who, text)
    assert not names_private(reply), f"{who}: {text!r} shows a private detail: {reply.model_dump_json()}"
    assert not reply.private, f"{who}: {text!r} is marked private but names nothing private"
    return reply


def test_the_dispatchers_confirmation_of_a_post_shows_what_was_entered_privately(chat):
    reply = private_answer(chat, DANA, 'request "DST patch" units=4 deadline=2027-03-10 pay=35 town=Hicksville '
                                       'customer="Acme Dental" site="12 Main St" contact="Ann Lee 516-555-0101"')
    assert [f.label for f in reply.fields[:3]] == ["Customer", "Site", "Contact"]
    public_answer(chat, DANA, 'request "Other patch" units=4 deadline=2027-03-10 pay=35 town=Mineola')


def test_status_for_home_staff_and_for_the_claimant_is_private(ready):
    private_answer(ready, DANA, "status SR-1")
    private_answer(ready, MORGAN, "status SR-1")
    public_answer(ready, TOM, "status SR-1")  # not claimed yet: the partner's view
    ready.ok(TOM, "claim SR-1 10")
    claimant = private_answer(ready, TOM, "status SR-1")
    assert "Your claims" in claimant.text


def test_a_partner_tech_who_is_not_the_claimant_sees_no_private_detail(ready):
    ready.ok(TOM, "claim SR-1 10")
    ready.ok(FRANK, "guidelines ack")
    reply = public_answer(ready, FRANK, "status SR-1")
    assert "10 units left" not in reply.text and "30 of 40 units left" in reply.text
    public_answer(ready, PAULA, "status SR-1")  # Tom's partner admin, not the claimant


def test_audit_list_and_digest_for_home_staff_are_private(ready):
    private_answer(ready, DANA, "audit SR-1")
    private_answer(ready, MORGAN, "audit SR-1")
    assert "Acme Dental" in private_answer(ready, DANA, "list").text
    assert ready.ok(MORGAN, "digest").private  # problems and leads from the site, bill rates and margins


def test_a_partners_list_claim_and_home_page_name_nothing_private(ready):
    public_answer(ready, TOM, "list")
    claim = public_answer(ready, TOM, "claim SR-1 10")
    [dm] = [m for m in claim.messages if m.audience == "dm"]
    assert dm.private and "Acme Dental" in dm.model_dump_json()  # the job details go to the claimant alone
    page = ready.core.view(Identity(platform="console", user_id=TOM), home)
    assert not page.private and not names_private(page)


@pytest.mark.parametrize("who", [DANA, MORGAN, TOM, PAULA, FRANK])
def test_every_answer_that_names_a_private_detail_is_marked(ready, who):
    """A sweep of the commands each person may use on a request with every private detail set."""
    ready.ok(TOM, "claim SR-1 10")
    ready.ok(TOM, "start SR-1")
    for text in ["help", "list", "status SR-1", "audit SR-1", "agreement", "guidelines", "partners", "digest",
                 "claim SR-1 1", "release SR-1 1", "start SR-1", 'problem SR-1 "UPS alarm"', "done SR-1 5",
                 "verify SR-1 Tom", "status SR-1", 'cancel SR-1 "weather"', "status SR-1"]:
        reply = ready.say(who, text)
        if names_private(reply):
            assert reply.private, f"{who}: {text!r} names a private detail and is not marked private"


def test_a_buttons_follow_up_keeps_the_first_answers_mark(ready):
    """A button runs its command, then its follow-up; the answer shows both texts, so both marks."""
    button = Action(kind=ActionKind.RUN, label="Open requests", command="list", then="help")
    reply = ready.core.handle_action(Identity(platform="console", user_id=DANA), button)
    assert "Acme Dental" in reply.text and "Here's what you can do" in reply.text
    assert reply.private
