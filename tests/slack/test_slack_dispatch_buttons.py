"""The dispatch copy's buttons over Slack: Revoke (asks why), Edit (the request form, prefilled) and
Reassign… (to whom, and how many): each opens its modal, runs the same command as the text, and every
copy of the card updates in place; a refused one answers beside the field and changes nothing."""
from __future__ import annotations

from tests.harness import wait_for
from tests.slack.conftest import DISPATCH, PARTNERS
from tests.slack.test_slack_flow import ready
from tests.teams.conftest import outbox_idle


def text_input(value: str) -> dict:
    return {"value": {"type": "plain_text_input", "value": value}}


def dispatch_card_with(slack, label: str) -> dict:
    """The newest dispatch copy once it shows a button whose label starts with `label`."""
    return wait_for(lambda: (c := slack.card(DISPATCH)) and any(k.startswith(label) for k in slack.buttons(c["blocks"]))
                    and c, what=f"the dispatch card with {label}")


def button(slack, card: dict, label: str) -> dict:
    return next(v for k, v in slack.buttons(card["blocks"]).items() if k.startswith(label))


def claimed(slack, units: int = 10) -> dict:
    """SR-1 posted, Tom holds `units` of it; the dispatch copy as it then stands."""
    ready(slack)
    assert f"You have {units} units" in slack.command("U0TOM", f"claim SR-1 {units}").text
    return dispatch_card_with(slack, "Revoke Tom Tech")


def test_revoke_asks_why_then_takes_the_claim_back_and_the_units_return_to_every_copy(slack):
    card = claimed(slack)
    assert "Revoke Tom Tech" in slack.buttons(card["blocks"])
    slack.click("U0DANA", button(slack, card, "Revoke Tom Tech"), channel=DISPATCH)
    view = slack.wait_sent("views.open")[-1]["view"]
    assert view["callback_id"] == "surge.form.reject" and view["title"]["text"] == "Revoke a claim"
    assert "SR-1: Revoke Tom Tech" in str(view)  # what the form is about, in the button's own words
    empty = slack.submit("U0DANA", view, {"why": text_input("")})
    assert empty.body["response_action"] == "errors" and "why" in empty.body["errors"]
    done = slack.submit("U0DANA", view, {"why": text_input('the customer asked for "our own" staff')})
    assert done.status == 200 and not done.body
    note = slack.wait_sent("chat.postEphemeral", user="U0DANA")[-1]
    assert "Revoked Tom Tech's claim on SR-1" in note["text"] and note["channel"] == DISPATCH
    wait_for(lambda: "40 of 40 units left" in slack.fake.text_of(slack.card(PARTNERS)), what="units back on the card")
    assert slack.fake.sent("chat.update", channel=PARTNERS)  # in place, never a second post
    assert len(slack.fake.sent("chat.postMessage", channel=PARTNERS)) == 1
    updated = wait_for(lambda: (c := slack.card(DISPATCH)) and "Revoke Tom Tech" not in slack.buttons(c["blocks"])
                       and c, what="the dispatch copy without Tom's buttons")
    assert "Acme Dental" in slack.fake.text_of(updated)
    dm = wait_for(lambda: [m for m in slack.fake.sent("chat.postMessage", channel="U0TOM")
                           if "took back your claim" in m["text"]], what="Tom told why")
    assert "our own" in dm[-1]["text"]


def test_revoke_on_a_stale_card_answers_beside_the_field_and_changes_nothing(slack):
    card = claimed(slack)
    slack.command("U0TOM", "done SR-1")
    assert "Verified" in slack.command("U0DANA", 'verify SR-1 "Tom Tech"', channel=DISPATCH).text
    wait_for(lambda: outbox_idle(slack.stack.core), what="the cards updated")
    updates = len(slack.fake.sent("chat.update", channel=PARTNERS))
    slack.click("U0DANA", button(slack, card, "Revoke Tom Tech"), channel=DISPATCH)  # the old card still shows it
    view = slack.wait_sent("views.open")[-1]["view"]
    refused = slack.submit("U0DANA", view, {"why": text_input("no show")})
    assert refused.body["response_action"] == "errors"
    assert "no claim on SR-1 to take back" in refused.body["errors"]["why"]
    assert "10 units verified" in slack.command("U0DANA", "status SR-1", channel=DISPATCH).text
    wait_for(lambda: outbox_idle(slack.stack.core), what="the outbox")
    assert len(slack.fake.sent("chat.update", channel=PARTNERS)) == updates


def shown(view: dict, **changes: str) -> dict:
    """The modal's state as Slack submits it when the user changed only `changes` (field → text)."""
    values = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        el = block["element"]
        if el["type"] == "datepicker":
            value = {"selected_date": el.get("initial_date")}
        elif el["type"] == "timepicker":
            value = {"selected_time": el.get("initial_time")}
        elif el["type"] == "checkboxes":
            value = {"selected_options": el.get("initial_options") or []}
        else:
            value = {"value": el.get("initial_value")}
        if block["block_id"] in changes:
            value = {"value": changes[block["block_id"]]}
        values[block["block_id"]] = {"value": {"type": el["type"], **value}}
    return values


def test_edit_opens_the_request_form_as_the_request_stands_and_saves_only_the_changes(slack):
    card = claimed(slack)
    posts = len(slack.fake.sent("chat.postMessage", channel=PARTNERS))
    slack.click("U0DANA", button(slack, card, "Edit"), channel=DISPATCH)
    view = slack.wait_sent("views.open")[-1]["view"]
    assert view["callback_id"] == "surge.form.request" and view["title"]["text"] == "Edit SR-1"
    assert view["submit"]["text"] == "Save" and "Acme Dental" in str(view) and "DST patch" in str(view)
    saved = slack.submit("U0DANA", view, shown(view, units="30", contact="Bob Ray 516-555-0199"))
    assert saved.status == 200 and not saved.body
    note = slack.wait_sent("chat.postEphemeral", user="U0DANA")[-1]
    assert "Edited SR-1" in note["text"] and "units 30 (was 40)" in note["text"] and "contact changed" in note["text"]
    assert "pay" not in note["text"] and "title" not in note["text"]  # nothing else was touched
    wait_for(lambda: "20 of 30 units left" in slack.fake.text_of(slack.card(PARTNERS)), what="the partner card")
    wait_for(lambda: "Bob Ray" in slack.fake.text_of(slack.card(DISPATCH)), what="the dispatch card")
    wait_for(lambda: [m for m in slack.fake.sent("chat.postMessage", channel="U0TOM") if "has changed" in m["text"]],
             what="Tom told what changed")
    wait_for(lambda: outbox_idle(slack.stack.core), what="the outbox")
    assert len(slack.fake.sent("chat.postMessage", channel=PARTNERS)) == posts  # updated in place, never reposted
    assert "Bob Ray" not in str(slack.fake.sent("chat.update", channel=PARTNERS))


def test_an_edit_that_is_refused_answers_in_the_form_and_changes_nothing(slack):
    card = claimed(slack)
    slack.click("U0DANA", button(slack, card, "Edit"), channel=DISPATCH)
    view = slack.wait_sent("views.open")[-1]["view"]
    below = slack.submit("U0DANA", view, shown(view, units="5"))
    assert below.body["response_action"] == "errors" and "can't go below 10" in below.body["errors"]["title"]
    same = slack.submit("U0DANA", view, shown(view))
    assert "Nothing to change" in same.body["errors"]["title"]
    tier = slack.submit("U0DANA", view, shown(view, tier="2"))
    assert "widen SR-1" in tier.body["errors"]["tier"]
    assert "30 of 40 units left" in slack.command("U0DANA", "status SR-1", channel=DISPATCH).text


def test_reassign_asks_to_whom_then_moves_the_units_and_both_are_told(slack):
    card = claimed(slack)
    slack.command("U0PAULA", "guidelines ack")
    slack.click("U0DANA", button(slack, card, "Reassign Tom Tech"), channel=DISPATCH)
    view = slack.wait_sent("views.open")[-1]["view"]
    assert view["callback_id"] == "surge.form.reassign" and view["title"]["text"] == "Reassign a claim"
    nobody = slack.submit("U0DANA", view, {"to": text_input(""), "units": {"value": {"value": None}}})
    assert "Name who should take the units" in nobody.body["errors"]["to"]
    moved = slack.submit("U0DANA", view, {"to": text_input("paula"),  # a unique first name, as in the text command
                                          "units": {"value": {"type": "number_input", "value": "4"}}})
    assert moved.status == 200 and not moved.body
    note = slack.wait_sent("chat.postEphemeral", user="U0DANA")[-1]
    assert "Moved 4 units of SR-1 from Tom Tech to Paula Admin" in note["text"]
    updated = wait_for(lambda: (c := slack.card(DISPATCH)) and "Reassign Paula Admin…" in slack.buttons(c["blocks"])
                       and c, what="the dispatch copy with Paula's claim")
    assert "Tom Tech (Contoso Field Services): 6 units claimed" in slack.fake.text_of(updated)
    job = wait_for(lambda: [m for m in slack.fake.sent("chat.postMessage", channel="U0PAULA")
                            if "assigned you 4 units" in m["text"]], what="Paula's job details")
    assert "Acme Dental" in slack.fake.text_of(job[-1])
    wait_for(lambda: [m for m in slack.fake.sent("chat.postMessage", channel="U0TOM") if "moved 4 units" in m["text"]],
             what="Tom told")
    assert "30 of 40 units left" in slack.fake.text_of(slack.card(PARTNERS))  # still 10 taken, in place


def test_reassign_to_someone_unknown_answers_beside_the_name_and_changes_nothing(slack):
    card = claimed(slack)
    slack.click("U0DANA", button(slack, card, "Reassign Tom Tech"), channel=DISPATCH)
    view = slack.wait_sent("views.open")[-1]["view"]
    unknown = slack.submit("U0DANA", view, {"to": text_input("Zed Nobody")})
    assert "can't find “Zed Nobody” on the roster" in unknown.body["errors"]["to"]
    gated = slack.submit("U0DANA", view, {"to": text_input("Morgan")})  # home staff take no claims
    assert "home staff" in gated.body["errors"]["to"]
    too_many = slack.submit("U0DANA", view, {"to": text_input("Paula Admin"),
                                             "units": {"value": {"type": "number_input", "value": "11"}}})
    assert "holds 10 units" in too_many.body["errors"]["to"]
    status = slack.command("U0DANA", "status SR-1", channel=DISPATCH).text
    assert "Tom Tech (Contoso Field Services): 10 units" in status and "Paula" not in status


def test_a_form_whose_core_is_slow_is_acknowledged_first_and_answered_by_message(slack, monkeypatch):
    """Slack gives a submission 3 s: when the core takes longer than the guard, the form closes at once and
    the outcome, a refusal included, reaches the sender as a message."""
    card = claimed(slack)
    monkeypatch.setattr("bot.slack.listeners.views.ACK_WITHIN", 0.0)  # as if the database were slow
    slack.click("U0DANA", button(slack, card, "Reassign Tom Tech"), channel=DISPATCH)
    view = slack.wait_sent("views.open")[-1]["view"]
    gated = slack.submit("U0DANA", view, {"to": text_input("Morgan")})  # home staff take no claims
    assert gated.status == 200 and not gated.body
    told = wait_for(lambda: [m for m in slack.fake.sent("chat.postEphemeral", user="U0DANA")
                             if "home staff" in m["text"]], what="the refusal, as a message")
    assert told[-1]["channel"] == DISPATCH
    slack.command("U0PAULA", "guidelines ack")
    moved = slack.submit("U0DANA", view, {"to": text_input("Paula Admin")})
    assert moved.status == 200 and not moved.body
    wait_for(lambda: [m for m in slack.fake.sent("chat.postEphemeral", user="U0DANA")
                      if "Moved 10 units of SR-1 from Tom Tech to Paula Admin" in m["text"]], what="the move")


def test_edit_typed_alone_opens_the_same_form(slack):
    ready(slack)
    assert slack.command("U0DANA", "edit SR-1", channel=DISPATCH).status == 200
    view = slack.wait_sent("views.open")[-1]["view"]
    assert view["title"]["text"] == "Edit SR-1"
    assert slack.submit("U0DANA", view, shown(view, title="DST patch round")).status == 200
    assert "Edited SR-1 · DST patch round" in slack.wait_sent("chat.postEphemeral", user="U0DANA")[-1]["text"]
    assert "DST patch round" in slack.command("U0DANA", "list", channel=DISPATCH).text
