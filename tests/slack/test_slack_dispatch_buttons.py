"""The dispatch copy's buttons over Slack: Revoke (asks why), Edit (the request form, prefilled) and
Reassign… (to whom, and how many): each opens its modal, runs the same command as the text, and every
copy of the card updates in place; a refused one answers beside the field and changes nothing."""
from __future__ import annotations

from tests.harness import wait_for
from tests.slack.conftest import DISPATCH, PARTNERS
from tests.teams.conftest import outbox_idle
from tests.slack.test_slack_flow import ready


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
    assert "revoke SR-1" in str(view)
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
