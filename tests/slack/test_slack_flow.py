"""The whole story over Slack: signed slash commands, buttons, forms, cards updated in place."""
from __future__ import annotations

import json
import time

from tests.slack.conftest import DISPATCH, PARTNERS

POST = ('request "DST patch, Main St office" units=40 deadline=2030-03-10 pay=35 bill=60 '
        'town=Hicksville customer="Acme Dental" site="12 Main St" contact="Ann Lee 516-555-0101"')


def ready(slack) -> None:
    """Contoso signed, Tom acknowledged, SR-1 posted and its cards delivered."""
    assert "Signed" in slack.command("U0PAULA", 'sign "Paula Admin"').text
    assert "acknowledged" in slack.command("U0TOM", "guidelines ack").text
    assert "Posted" in slack.command("U0DANA", POST, channel=DISPATCH).text
    slack.wait_sent("chat.postMessage", channel=PARTNERS)
    slack.wait_sent("chat.postMessage", channel=DISPATCH)


def test_forged_stale_and_unsigned_requests_are_401_and_change_nothing(slack):
    assert slack.command("U0DANA", POST, secret="not-the-secret").status == 401
    assert slack.command("U0DANA", POST, ts=int(time.time()) - 6 * 60).status == 401
    assert slack.post("command=%2Fsurge&text=list", "application/x-www-form-urlencoded",
                      headers={"X-Slack-Signature": "v0=00"}).status == 401
    time.sleep(0.3)
    assert slack.fake.sent("chat.postMessage") == []
    assert "no open requests" in slack.command("U0DANA", "list").text.lower()


def test_slash_command_answers_ephemerally_and_posts_cards_after_the_ack(slack):
    answer = slack.command("U0DANA", POST, channel=DISPATCH)
    assert answer.status == 200 and answer.body["response_type"] == "ephemeral"
    assert "Posted *SR-1*" in answer.body["text"]
    partner = slack.wait_sent("chat.postMessage", channel=PARTNERS)[0]
    dispatch = slack.wait_sent("chat.postMessage", channel=DISPATCH)[0]
    assert "Hicksville" in slack.fake.text_of(partner) and "Acme Dental" not in slack.fake.text_of(partner)
    assert "Acme Dental" in slack.fake.text_of(dispatch)
    assert {"Claim all 40", "Claim some…", "Details"} <= set(slack.buttons(partner["blocks"]))


def test_unknown_user_and_bad_input_get_specific_private_answers(slack):
    assert "not on this Surge roster" in slack.command("U0STRANGER", "claim SR-1").text
    assert "Did you mean `claim`" in slack.command("U0TOM", "clam SR-1").text
    assert "whole number above 0" in slack.command("U0TOM", "claim SR-1 -4").text
    long = slack.command("U0DANA", "request " + "x" * 5000 + " units=1 deadline=2030-01-01")
    assert long.status == 200 and "keep it to 150" in long.text


def test_claim_button_takes_units_updates_every_copy_in_place_and_dms_the_job(slack):
    ready(slack)
    partner = slack.card(PARTNERS)
    answer = slack.click("U0TOM", slack.buttons(partner["blocks"])["Claim all 40"], message_ts=partner.get("ts", "1.1"))
    assert answer.status == 200
    said = slack.click_answer()
    assert "You have 40 units of SR-1" in said["text"] and said["response_type"] == "ephemeral"
    dm = slack.wait_sent("chat.postMessage", channel="U0TOM")[0]
    assert "Acme Dental" in slack.fake.text_of(dm) and "Never share" in slack.fake.text_of(dm)
    updated = slack.wait_sent("chat.update", channel=PARTNERS)[-1]
    assert "0 of 40 units left" in slack.fake.text_of(updated)
    assert not any(k.startswith("Claim") for k in slack.buttons(updated["blocks"]))  # full: no claiming
    dispatch = slack.wait_sent("chat.update", channel=DISPATCH)[-1]
    assert "Tom Tech" in slack.fake.text_of(dispatch)


def test_gate_buttons_sign_form_then_claim_goes_on(slack):
    assert "Posted" in slack.command("U0DANA", POST, channel=DISPATCH).text
    refused = slack.command("U0PAULA", "claim SR-1 5")
    sign = slack.buttons(refused.body["blocks"])["Read and sign"]
    slack.click("U0PAULA", sign)
    view = slack.wait_sent("views.open")[-1]["view"]
    assert view["callback_id"] == "surge.form.sign" and "shall not solicit" in json.dumps(view)
    no_tick = slack.submit("U0PAULA", view, {"name": {"value": {"type": "plain_text_input", "value": "Paula Admin"}}})
    assert no_tick.body["response_action"] == "errors" and "agree" in no_tick.body["errors"]
    wrong = slack.submit("U0PAULA", view, {"name": {"value": {"type": "plain_text_input", "value": "P. Admin"}},
                                            "agree": {"value": {"selected_options": [{"value": "agree"}]}}})
    assert "doesn't match" in wrong.body["errors"]["name"]
    good = slack.submit("U0PAULA", view, {"name": {"value": {"type": "plain_text_input", "value": "Paula Admin"}},
                                           "agree": {"value": {"selected_options": [{"value": "agree"}]}}})
    assert good.status == 200 and not good.body
    note = slack.wait_sent("chat.postEphemeral", user="U0PAULA")[-1]
    # signed, then the claim went on: now the guidelines gate answers
    assert "Signed" in note["text"] and "field-conduct guidelines" in note["text"]


def test_guidelines_acknowledge_button_continues_the_claim(slack):
    slack.command("U0PAULA", 'sign "Paula Admin"')
    slack.command("U0DANA", POST, channel=DISPATCH)
    refused = slack.command("U0TOM", "claim SR-1 5")
    ack = slack.buttons(refused.body["blocks"])["I acknowledge"]
    slack.click("U0TOM", ack)
    said = slack.click_answer()
    assert "acknowledged" in said["text"] and "You have 5 units of SR-1" in said["text"]
    assert said["response_type"] == "ephemeral"


def test_claim_some_form_and_stale_card(slack):
    ready(slack)
    partner = slack.card(PARTNERS)
    slack.click("U0TOM", slack.buttons(partner["blocks"])["Claim some…"])
    view = slack.wait_sent("views.open")[-1]["view"]
    too_many = slack.submit("U0TOM", view, {"units": {"value": {"type": "number_input", "value": "41"}}})
    assert "Only 40 units" in too_many.body["errors"]["units"]
    ok = slack.submit("U0TOM", view, {"units": {"value": {"type": "number_input", "value": "15"}}})
    assert ok.status == 200
    slack.wait_sent("chat.update", channel=PARTNERS)
    # a click on the old card (it still says "Claim all 40") takes what is left, never more
    slack.command("U0FRANK", "guidelines ack")
    stale = slack.click("U0TOM", slack.buttons(partner["blocks"])["Claim all 40"])
    assert stale.status == 200
    said = slack.click_answer()
    assert "You have 40 units" in said["text"]  # 15 + the 25 left


def test_request_form_validates_fields(slack):
    opened = slack.command("U0DANA", "request", channel=DISPATCH)
    assert opened.status == 200
    view = slack.wait_sent("views.open")[-1]["view"]
    assert view["callback_id"] == "surge.form.request"
    bad = slack.submit("U0DANA", view, {"title": {"value": {"value": ""}}, "units": {"value": {"value": "0"}},
                                         "pay": {"value": {"value": "lots"}}})
    errors = bad.body["errors"]
    assert set(errors) >= {"units", "pay", "deadline", "title"}
    good = slack.submit("U0DANA", view, {
        "title": {"value": {"value": "Form request"}}, "units": {"value": {"value": "12"}},
        "deadline": {"value": {"selected_date": "2030-02-01"}}, "deadline_time": {"value": {"selected_time": "09:00"}},
        "pay": {"value": {"value": "40"}}, "town": {"value": {"value": "Mineola"}},
        "approval": {"value": {"selected_options": [{"value": "yes"}]}}})
    assert good.status == 200
    note = slack.wait_sent("chat.postEphemeral", user="U0DANA")[-1]
    assert "Posted *SR-1* · Form request: 12 units by Fri 01 Feb 2030 09:00 EST" in note["text"]
    card = slack.wait_sent("chat.postMessage", channel=PARTNERS)[-1]
    assert "a dispatcher approves each claim" in slack.fake.text_of(card)


def test_user_text_cannot_ping_the_channel(slack):
    slack.command("U0DANA", 'request "Urgent <!channel> <@U0TOM> & co" units=3 deadline=2030-03-10 pay=35 town=Hicksville', channel=DISPATCH)
    card = slack.wait_sent("chat.postMessage", channel=PARTNERS)[-1]
    # mentions are parsed in mrkdwn and in the notification text; plain_text headers show text as typed
    parsed = [card["text"]] + [json.dumps(b) for b in card["blocks"] if b["type"] != "header"]
    assert "Urgent" in card["text"] and all("<!channel>" not in t and "<@U0TOM>" not in t for t in parsed)
    assert "&lt;!channel&gt;" in card["text"] and "&amp; co" in card["text"]


def test_every_command_is_acknowledged_before_the_core_runs_and_answered_through_response_url(slack):
    """The ack never waits on the core: a busy or slow database can't make Slack give up at 3 s."""
    for text, said in (("help claim", "claim SR-7 12"), ("list", "No open requests right now.")):
        answer = slack.command("U0DANA", text, follow=False)
        assert answer.status == 200 and not answer.body  # the empty ack
        [late] = slack.wait_sent(f"respond/cmd{next(slack.ids) - 1}")
        assert late["response_type"] == "ephemeral" and said in json.dumps(late)


def test_the_request_form_opens_after_the_ack(slack):
    answer = slack.command("U0DANA", "request", channel=DISPATCH, follow=False)
    assert answer.status == 200 and not answer.body
    view = slack.wait_sent("views.open")[-1]["view"]
    assert view["callback_id"] == "surge.form.request"
