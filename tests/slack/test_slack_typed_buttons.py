"""Buttons carry a small typed model (request id, person id), never a command with a name in quotes: a
roster person named `Dana "DJ" Ortiz` is approved, sent back and verified by button; a forged or garbled
button value gets a plain answer and changes nothing."""
from __future__ import annotations

import json

from handlers.roster import load_roster
from tests.conftest import ROSTER, Chat
from tests.harness import wait_for
from tests.slack.conftest import DISPATCH

DJ = 'Dana "DJ" Ortiz'
WITH_DJ = ROSTER.read_text().replace("people:\n", """people:
  - name: 'Dana "DJ" Ortiz'
    org: Contoso Field Services
    roles: [tech]
    slack: U0DJ
""", 1)


def state(slack) -> dict[str, list]:
    """Every row, but of the outbox only which messages exist (its sender records deliveries meanwhile)."""
    rows = Chat(slack.stack.core).state()
    del rows["outbox_delivery"], rows["posted_card"]
    return rows | {"outbox_message": [row[0] for row in rows["outbox_message"]]}


def text_input(value: str) -> dict:
    return {"value": {"type": "plain_text_input", "value": value}}


def dispatch_note(slack, words: str, count: int = 1) -> dict:
    """The newest message to the dispatch channel that says `words` (once `count` of them were sent)."""
    return wait_for(lambda: (found := [m for m in slack.fake.sent("chat.postMessage", channel=DISPATCH)
                                       if words in slack.fake.text_of(m)]) and len(found) >= count and found[-1],
                    what=f"a dispatch message saying {words!r}")


def with_dj_claiming(slack) -> None:
    load_roster(slack.stack.core.db, WITH_DJ)
    assert "Signed" in slack.command("U0PAULA", 'sign "Paula Admin"').text
    assert "acknowledged" in slack.command("U0DJ", "guidelines ack").text
    assert "Posted" in slack.command("U0DANA", 'request "Servers" units=10 deadline=2030-03-10 pay=35 town=Hicksville '
                                     "approval=yes", channel=DISPATCH).text
    assert "A dispatcher approves" in slack.command("U0DJ", "claim SR-1 4").text


def test_a_name_with_quotes_is_approved_sent_back_and_verified_by_button(slack):
    with_dj_claiming(slack)
    note = dispatch_note(slack, "asks for 4 units")
    approve = slack.buttons(note["blocks"])["Approve"]
    assert json.loads(approve["value"]) == {"k": "approve", "r": 1, "p": json.loads(approve["value"])["p"]}
    assert "Ortiz" not in approve["value"]
    slack.click("U0DANA", approve, channel=DISPATCH)
    assert "Approved" in slack.click_answer()["text"]

    assert "Reported 4 units of SR-1 done" in slack.command("U0DJ", "done SR-1").text  # approved: it could start
    reported = dispatch_note(slack, "reports 4 units")
    slack.click("U0DANA", slack.buttons(reported["blocks"])["Send back"], channel=DISPATCH)
    view = slack.wait_sent("views.open")[-1]["view"]
    assert view["callback_id"] == "surge.form.reject" and "Ortiz" not in view["private_metadata"]
    sent_back = slack.submit("U0DANA", view, {"why": text_input('the "server room" door was left open')})
    assert sent_back.status == 200 and not sent_back.body
    told = slack.wait_sent("chat.postEphemeral", user="U0DANA")[-1]
    assert f"Sent {DJ}'s work on SR-1 back." in told["text"], told["text"]

    slack.command("U0DJ", "done SR-1")
    again = dispatch_note(slack, "reports 4 units", count=2)
    slack.click("U0DANA", slack.buttons(again["blocks"])["Verify"], channel=DISPATCH)
    assert "Verified" in slack.click_answer()["text"]
    assert "4 units verified" in slack.command("U0DANA", "status SR-1", channel=DISPATCH).text


def test_forged_and_garbled_button_values_are_answered_and_change_nothing(slack):
    with_dj_claiming(slack)
    note = dispatch_note(slack, "asks for 4 units")
    approve = slack.buttons(note["blocks"])["Approve"]
    before = state(slack)
    for value in ("approve SR-1 Dana", '{"k": 5}', '{"k":"approve","c":"approve SR-1 \\"Dana\\""}',
                  '{"k":"approve","r":1}', '{"k":"approve","r":1,"p":4,"x":"extra"}', '{"k":"approve","r":-1,"p":4}',
                  "[]", '{"k":"approve","r":1,"p":99999999999}'):
        slack.click("U0DANA", {**approve, "value": value}, channel=DISPATCH)
        said = slack.click_answer()
        assert "can't be read" in said["text"] and "Nothing was changed" in said["text"], (value, said)
        assert said["response_type"] == "ephemeral"
    slack.click("U0DANA", {**approve, "value": '{"k":"approve","r":1,"p":4242}'}, channel=DISPATCH)
    assert "can't find" in slack.click_answer()["text"]  # well formed, but no such person
    slack.click("U0DANA", {**approve, "value": '{"k":"approve","r":77,"p":1}'}, channel=DISPATCH)
    assert "There is no SR-77" in slack.click_answer()["text"]
    slack.click("U0DJ", approve, channel=DISPATCH)  # a real button, clicked by someone who may not
    assert "dispatcher" in slack.click_answer()["text"]
    assert state(slack) == before
