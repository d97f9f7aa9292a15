"""Recorded Slack requests (tests/payloads/slack/, in the shapes Slack documents) replayed, signed, through
Surge's real /slack/events: every field Slack sends is read or ignored, and each gets its answer."""
from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

from tests.slack.conftest import DISPATCH, PARTNERS
from tests.slack.test_slack_flow import ready

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads" / "slack"
FORM, JSON = "application/x-www-form-urlencoded", "application/json"


def recorded(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def as_form(payload: dict) -> str:
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def test_every_recorded_shape_is_a_documented_slack_request():
    command = dict(urllib.parse.parse_qsl((PAYLOADS / "slash_command.txt").read_text(encoding="utf-8").strip()))
    assert command["command"] == "/surge" and {"user_id", "channel_id", "response_url", "trigger_id"} <= set(command)
    assert recorded("block_actions.json")["actions"][0]["type"] == "button"
    assert recorded("view_submission.json")["view"]["type"] == "modal"
    assert recorded("app_home_opened.json")["event"]["type"] == "app_home_opened"
    assert recorded("url_verification.json")["type"] == "url_verification"


def test_a_recorded_slash_command_is_acknowledged_then_answered(slack):
    fields = dict(urllib.parse.parse_qsl((PAYLOADS / "slash_command.txt").read_text(encoding="utf-8").strip()))
    fields |= {"user_id": "U0DANA", "channel_id": DISPATCH, "response_url": slack.fake.response_url("recorded")}
    ack = slack.post(urllib.parse.urlencode(fields), FORM)
    assert ack.status == 200 and not ack.body
    [answer] = slack.wait_sent("respond/recorded")
    assert answer["response_type"] == "ephemeral" and "claim SR-7 12" in json.dumps(answer)


def test_a_recorded_click_and_a_recorded_submission(slack):
    ready(slack)
    card = slack.wait_sent("chat.postMessage", channel=PARTNERS)[-1]
    clicked = recorded("block_actions.json")
    some = slack.buttons(card["blocks"])["Claim some…"]
    clicked["user"]["id"], clicked["channel"]["id"], clicked["container"]["channel_id"] = "U0TOM", PARTNERS, PARTNERS
    clicked["response_url"] = slack.fake.response_url("recorded-click")
    clicked["actions"][0] |= {"action_id": some["action_id"], "value": some["value"], "text": some["text"]}
    clicked["trigger_id"] = "trigger.recorded"
    assert slack.post(as_form(clicked), FORM).status == 200
    [opened] = slack.wait_sent("views.open", trigger_id="trigger.recorded")
    view = opened["view"]

    submitted = recorded("view_submission.json")
    submitted["user"]["id"] = "U0TOM"
    submitted["view"] |= {"callback_id": view["callback_id"], "private_metadata": view["private_metadata"],
                          "blocks": view["blocks"],
                          "state": {"values": {"units": {"value": {"type": "number_input", "value": "3"}}}}}
    answer = slack.post(as_form(submitted), FORM)
    assert answer.status == 200 and not answer.body  # the form closes
    note = slack.wait_sent("chat.postEphemeral", user="U0TOM")[-1]
    assert "You have 3 units of SR-1" in note["text"]


def test_a_recorded_app_home_opened_publishes_the_home_tab(slack):
    event = recorded("app_home_opened.json")
    event["event"]["user"] = "U0TOM"
    assert slack.post(json.dumps(event), JSON).status == 200
    [published] = slack.wait_sent("views.publish", user_id="U0TOM")
    assert published["view"]["type"] == "home"


def test_a_recorded_url_verification_is_answered_with_its_challenge(slack):
    challenge = recorded("url_verification.json")
    answer = slack.post(json.dumps(challenge), JSON)
    assert answer.status == 200 and challenge["challenge"] in answer.text
