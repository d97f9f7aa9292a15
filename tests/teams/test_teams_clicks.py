"""Card clicks: `invoke` activities named `adaptiveCard/action` (Action.Execute), answered with the card
the clicker sees next; forms as Adaptive Cards, checked again on submit; every copy updated after."""
from __future__ import annotations

import json

from tests.harness import wait_for
from tests.teams.conftest import DANA, DISPATCH, FRANK, PARTNERS, PAULA, TOM, request_card, settle
from tests.teams.fake_connector import CARD, button, buttons, card_of


def text(card) -> str:
    return json.dumps(card, ensure_ascii=False)


def partner_post(connector):
    return request_card(connector, PARTNERS, 1)


def test_claim_all_from_the_partner_card_through_the_guidelines(posted, connector, surge):
    post = partner_post(connector)
    status, answer, _ = posted.click(FRANK, button(post.card, "Claim all 40"), channel=PARTNERS,
                                     card_id=post.created_id)
    assert status == 200 and answer["type"] == CARD
    shown = card_of(answer)
    assert "40 of 40 units left" in text(shown)  # the card itself, unchanged…
    assert "acknowledge" in text(shown)  # …with Frank's answer under it: the guidelines gate
    status, answer, _ = posted.click(FRANK, button(shown, "I acknowledge"), channel=PARTNERS, card_id=post.created_id)
    shown = card_of(answer)
    assert "0 of 40 units left" in text(shown) and "You have 40 units of SR-1" in text(shown)
    assert "Claim all" not in [b["title"] for b in buttons(shown)]
    # everyone's copy is updated in place, and Frank, who never wrote to Surge 1:1, gets a new chat
    wait_for(lambda: "0 of 40 units left" in text(connector.latest_card(PARTNERS, post.created_id)),
             what="the partner card updated in place")
    dm = wait_for(lambda: [c for c in connector.dms_to(FRANK) if "Your job: SR-1" in c.text], what="Frank's DM")
    assert "Acme Dental" in dm[0].text
    created = [c for c in connector.ok() if c.kind == "create"]
    assert created and created[0].body["members"] == [{"id": FRANK}]
    assert created[0].body["channelData"] == {"tenant": {"id": "tenant-0001"}}


def test_claim_some_is_a_form_checked_on_submit(posted, connector, surge):
    posted.say(FRANK, "guidelines ack")
    post = partner_post(connector)
    _, answer, _ = posted.click(FRANK, button(post.card, "Claim some"), channel=PARTNERS, card_id=post.created_id)
    form = card_of(answer)
    assert "40 of 40 units left" in text(form)
    units = next(i for i in form["body"][-1]["items"] if i.get("id") == "units")
    assert units["type"] == "Input.Number" and units["isRequired"] and units["min"] == 1
    claim = button(form, "Claim")
    _, answer, _ = posted.click(FRANK, claim, inputs={"units": "0"}, channel=PARTNERS, card_id=post.created_id)
    assert "Input.Number" in text(card_of(answer)) and "Attention" in text(card_of(answer))
    _, answer, _ = posted.click(FRANK, claim, inputs={"units": 55}, channel=PARTNERS, card_id=post.created_id)
    assert "Only 40 units of SR-1 are left" in text(card_of(answer))
    _, answer, _ = posted.click(FRANK, claim, inputs={"units": 12}, channel=PARTNERS, card_id=post.created_id)
    assert "28 of 40 units left" in text(card_of(answer)) and "You have 12 units" in text(card_of(answer))
    _, answer, _ = posted.click(FRANK, button(form, "Cancel"), channel=PARTNERS, card_id=post.created_id)
    assert "Input.Number" not in text(card_of(answer)) and "28 of 40" in text(card_of(answer))
    settle(surge)


def test_sign_form_from_the_gate_then_the_claim_goes_on(posted, connector, surge):
    post = partner_post(connector)
    _, answer, _ = posted.click(PAULA, button(post.card, "Claim all"), channel=PARTNERS, card_id=post.created_id)
    _, answer, _ = posted.click(PAULA, button(card_of(answer), "Read and sign"), channel=PARTNERS,
                                card_id=post.created_id)
    form = card_of(answer)
    assert "Mutual Non-Solicitation Agreement · version 2027-01" in text(form)
    assert "twelve months after" in text(form)  # the agreement text itself
    sign = button(form, "Sign")
    _, answer, _ = posted.click(PAULA, sign, inputs={"name": "Paula Admin", "agree": ""}, channel=PARTNERS,
                                card_id=post.created_id)
    assert "Tick “I agree”" in text(card_of(answer))
    _, answer, _ = posted.click(PAULA, sign, inputs={"name": "Paula Somebody", "agree": "agree"}, channel=PARTNERS,
                                card_id=post.created_id)
    assert "doesn't match your name" in text(card_of(answer))
    assert "Paula Somebody" in text(card_of(answer))  # what she typed is kept
    _, answer, _ = posted.click(PAULA, sign, inputs={"name": "paula  admin", "agree": "agree"}, channel=PARTNERS,
                                card_id=post.created_id)
    shown = text(card_of(answer))
    assert "Signed: Mutual Non-Solicitation Agreement" in shown
    assert "I acknowledge" in shown  # the claim went on, to the next gate
    assert "signed by paula  admin" in posted.say(TOM, "agreement")[0].text.lower()


def test_request_form_in_a_chat(installed, connector, surge):
    replies = installed.say(DANA, "request")
    form = replies[0].card
    ids = [i.get("id") for i in form["body"] if i.get("id")]
    assert {"title", "units", "deadline", "customer", "site", "contact", "town", "tier"} <= set(ids)
    post = button(form, "Post")
    _, answer, _ = installed.click(DANA, post, inputs={"units": 20, "pay": "lots", "deadline": ""})
    shown = text(card_of(answer))
    assert "Give the request a title" in shown and "Pick the deadline" in shown and "“lots”" in shown
    assert '"value": "lots"' in shown  # kept for correction
    good = {"title": "Printer swap", "units": 20, "deadline": "2027-03-08", "deadline_time": "12:00",
            "pay": "40", "bill": "70", "town": "Mineola", "customer": "Acme Dental", "approval": "no", "tier": "2"}
    _, answer, _ = installed.click(DANA, post, inputs=good)
    assert "Posted **SR-1** · Printer swap: 20 units by Mon 08 Mar 2027 12:00" in text(card_of(answer))
    card = wait_for(lambda: request_card(connector, PARTNERS, 1), what="the new card")
    assert "Mineola" in card.text and "Acme Dental" not in card.text


def test_capacity_offers_a_prefilled_request_form(installed):
    reply = installed.say(DANA, "capacity units=600 minutes=30 techs=4 hours=6 by=2027-03-10")[0]
    _, answer, _ = installed.click(DANA, button(reply.card, "Post "))
    form = card_of(answer)
    units = next(i for i in form["body"] if i.get("id") == "units")
    assert units["value"] > 0
    assert next(i for i in form["body"] if i.get("id") == "deadline")["value"] == "2027-03-10"


def test_send_back_form_on_the_dispatch_card(posted, connector, surge):
    posted.say(FRANK, "guidelines ack")
    posted.say(FRANK, "claim SR-1 5")
    posted.say(FRANK, "done SR-1 5")
    post = request_card(connector, DISPATCH, 1)
    card = wait_for(lambda: (c := connector.latest_card(DISPATCH, post.created_id)) and "Send back" in text(c) and c,
                    what="the dispatch card with Verify / Send back")
    _, answer, _ = posted.click(DANA, button(card, "Send back Frank"), channel=DISPATCH, card_id=post.created_id)
    send = button(card_of(answer), "Send")
    _, answer, _ = posted.click(DANA, send, inputs={"why": ""}, channel=DISPATCH, card_id=post.created_id)
    assert "Say why" in text(card_of(answer))
    _, answer, _ = posted.click(DANA, send, inputs={"why": 'two "clients" still unpatched'}, channel=DISPATCH,
                                card_id=post.created_id)
    assert "Acme Dental" in text(card_of(answer))  # Dana sees the dispatch copy
    wait_for(lambda: [c for c in connector.dms_to(FRANK) if 'two \\"clients\\" still unpatched' in c.text
                      or "two \"clients\" still unpatched" in c.text], what="Frank told why")


def test_a_notice_click_keeps_the_notice_and_answers_below(installed, connector, surge):
    installed.say(DANA, 'request "Swap" units=10 deadline=2027-03-10 pay=35 bill=60 tier=2 approval=yes town=Mineola')
    installed.say(FRANK, "guidelines ack")
    installed.say(FRANK, "claim SR-1 3")
    notice = wait_for(lambda: [c for c in connector.in_conversation(DISPATCH, "post") if "asks for 3 units" in c.text],
                      what="the approval notice")[0]
    status, answer, body = installed.click(DANA, button(notice.card, "Approve"), channel=DISPATCH,
                                           card_id=notice.created_id)
    assert answer["type"] == "application/vnd.microsoft.activity.message" and "Approved" in answer["value"]
    thread = [c for c in connector.ok() if c.kind == "reply" and c.activity_id == body["id"]]
    assert "Approved Frank Fabrikam's 3 units of SR-1" in thread[0].text


def test_a_replayed_click_changes_nothing(posted, connector, surge):
    from tests.conftest import Chat

    posted.say(FRANK, "guidelines ack")
    post = partner_post(connector)
    status, first, body = posted.click(FRANK, button(post.card, "Claim all"), channel=PARTNERS, card_id=post.created_id)
    settle(surge)
    chat = Chat(surge.core)
    before = chat.state()
    status, again, _ = posted.click(FRANK, {}, replay=body)  # Teams re-delivers the same invoke
    assert status == 200 and card_of(again) == card_of(first)
    settle(surge)
    assert chat.state() == before


def test_a_forged_click_never_shows_a_partner_the_dispatch_copy(posted, connector):
    post = request_card(connector, DISPATCH, 1)
    details = button(post.card, "History")
    _, answer, _ = posted.click(FRANK, details, channel=PARTNERS, card_id=post.created_id)
    assert "Acme Dental" not in text(answer)
