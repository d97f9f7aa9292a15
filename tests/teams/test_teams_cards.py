"""Adaptive Card rendering alone: pure functions of Surge's replies and messages, no I/O."""
from __future__ import annotations

import json

from bot.slack import forms as slack_forms
from bot.teams import cards
from bot.teams.forms import read_request_form, read_signature, read_units
from bot.teams.ids import DATA_KEY, CardState, Origin, Verb
from handlers.types import Action, ActionKind, Audience, Fact, Form, Message, Reply, Tone


def test_bold_is_translated_and_lines_become_blocks():
    blocks = cards.text_blocks("Posted *SR-7* · DST\n• one\n\n• two")
    assert [b["text"] for b in blocks] == ["Posted **SR-7** · DST", "• one", "• two"]
    assert [b.get("spacing") for b in blocks] == [None, "None", "Medium"]
    assert cards.markdown("a * b * c and 2*3*4") == "a * b * c and 2*3*4"


def test_a_reply_card_is_version_1_5_with_execute_buttons_carrying_typed_state():
    reply = Reply(text="Read them.", tone=Tone.WARNING, fields=[Fact(label="Never share", value="pricing")],
                  actions=[Action(kind=ActionKind.ACK_GUIDELINES, label="I acknowledge", command="guidelines ack",
                                  then="claim SR-7 12", style="primary")])
    card = cards.reply_card(reply)
    assert card["version"] == "1.5" and card["type"] == "AdaptiveCard"
    assert card["body"][0]["style"] == "warning"
    (button,) = [a for s in card["body"][0]["items"] if s["type"] == "ActionSet" for a in s["actions"]]
    assert button["type"] == "Action.Execute" and button["verb"] == Verb.RUN and button["style"] == "positive"
    state = CardState.model_validate(button["data"][DATA_KEY])
    assert (state.kind, state.command, state.then, state.origin) == (
        ActionKind.ACK_GUIDELINES, "guidelines ack", "claim SR-7 12", Origin.REPLY)


def test_request_cards_are_told_from_notices():
    card = Message(audience=Audience.PARTNERS, title="SR-7 · DST patch", text="x", request_id=7, tier=1)
    notice = Message(audience=Audience.DISPATCH, text="Tom asks for 3 units of SR-7", request_id=7)
    assert cards.is_request_card(card) and not cards.is_request_card(notice)
    assert cards.message_base(card) == CardState(origin=Origin.REQUEST, request_id=7, audience=Audience.PARTNERS)
    assert cards.message_base(notice).origin is Origin.MESSAGE


def test_any_card_is_kept_under_the_size_limit_without_touching_buttons():
    huge = Reply(title="T" * 5000, text="line\n" * 30000,
                 fields=[Fact(label=f"f{i}", value="v" * 3000) for i in range(40)],
                 actions=[Action(kind=ActionKind.RUN, label="Go", command="status SR-1")])
    card = cards.reply_card(huge)
    assert cards.size(card) <= cards.MAX_CARD_BYTES
    (button,) = [a for item in card["body"] if item["type"] == "ActionSet" for a in item["actions"]]
    assert CardState.model_validate(button["data"][DATA_KEY]).command == "status SR-1"
    assert "…" in json.dumps(card, ensure_ascii=False)
    many = Reply(text="\n".join(f"line {i}" for i in range(30000)))
    card = cards.reply_card(many)
    assert cards.size(card) <= cards.MAX_CARD_BYTES and len(card["body"]) == cards.MAX_BLOCKS


def test_forms_validate_on_the_card_and_again_on_submit():
    items = cards.request_form(CardState(), {"units": "216", "deadline": "2027-03-10T17:00"})
    by_id = {i["id"]: i for i in items if "id" in i}
    assert by_id["title"]["isRequired"] and by_id["units"]["value"] == 216 and by_id["units"]["min"] == 1
    assert by_id["deadline"]["value"] == "2027-03-10" and by_id["deadline_time"]["value"] == "17:00"
    assert by_id["pay"]["regex"] and by_id["tier"]["max"] == 9
    submit = items[-1]["actions"][0]
    assert submit["verb"] == Verb.SUBMIT and CardState.model_validate(submit["data"][DATA_KEY]).form is Form.REQUEST
    assert items[-1]["actions"][1]["associatedInputs"] == "none"
    cmd, errors = read_request_form({"title": "Swap", "units": 20.0, "deadline": "2027-03-08", "pay": "35.50",
                                     "skills": "Windows, printers", "approval": "yes", "town": "Mineola"})
    assert errors == {} and cmd.units == 20 and cmd.pay == 3550 and cmd.approval
    assert cmd.skills == ["windows", "printers"]
    assert cmd.deadline.isoformat() == "2027-03-08T17:00:00"
    _, errors = read_request_form({"units": "-3", "pay": "$$", "tier": "12", "deadline": "2027-03-08"})
    assert set(errors) == {"title", "units", "pay", "tier"}
    assert read_units({"units": "0"})[0] is None and read_units({"units": 4.0}) == (4, {})
    assert read_signature({"name": "Paula", "agree": "agree"}) == ("Paula", {})
    assert set(read_signature({"name": " ", "agree": ""})[1]) == {"name", "agree"}


def test_errors_are_shown_beside_their_inputs():
    items = cards.claim_some_form(CardState(command="claim SR-1"), {"units": "0"}, {"units": "How many units?"})
    at = [i["type"] for i in items].index("Input.Number")
    assert items[at + 1]["text"] == "How many units?" and items[at + 1]["color"] == "Attention"


def test_slack_and_teams_forms_are_read_by_the_same_rules():
    """A modal's state and a card's inputs, filled alike, are the same request (and the same mistakes)."""
    def modal(values: dict) -> dict:
        return {block: {"value": element} for block, element in values.items()}

    slack = modal({"title": {"value": "Swap"}, "units": {"value": "20"}, "deadline": {"selected_date": "2027-03-08"},
                   "deadline_time": {"selected_time": "09:00"}, "pay": {"value": "35.50"},
                   "approval": {"selected_options": [{"value": "yes"}]}, "tier": {"value": "2"},
                   "town": {"value": "Mineola"}})
    teams = {"title": "Swap", "units": 20.0, "deadline": "2027-03-08", "deadline_time": "09:00", "pay": "35.50",
             "approval": "yes", "tier": 2, "town": "Mineola"}
    from_slack, from_teams = slack_forms.read_request_form(slack), read_request_form(teams)
    assert from_slack == from_teams and from_teams[0].approval and from_teams[0].tier == 2
    assert slack_forms.read_request_form(modal({"tier": {"value": "12"}}))[1] == read_request_form({"tier": 12})[1]
    signed = modal({"name": {"value": "Paula Admin"}, "agree": {"selected_options": [{"value": "agree"}]}})
    assert slack_forms.read_signature(signed) == read_signature({"name": "Paula Admin", "agree": "agree"})
