"""Recorded Teams activities (tests/payloads/teams/, in the shapes Microsoft documents) replayed through
Surge's real /api/messages: every field Teams sends is read or ignored, never a 400 or a 500."""
from __future__ import annotations

import json
from pathlib import Path

from bot.teams import references
from tests.harness import wait_for
from tests.teams.conftest import DANA, DISPATCH, FRANK, PARTNERS, TOM, request_card
from tests.teams.fake_connector import CARD, button, card_of

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads" / "teams"


def recorded(name: str, connector, *, sender: str, conversation: str | None = None, thread: str | None = None) -> dict:
    """A recorded activity, changed only where a replay must be: the fake connector's URL, a sender on
    the test roster, and a channel on it (with the thread the activity belongs to)."""
    body = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    body["serviceUrl"] = connector.url
    body["from"]["id"] = sender
    if conversation is not None:
        recorded_thread = body["conversation"]["id"].partition(";messageid=")[2]
        thread = thread or recorded_thread
        body["conversation"]["id"] = conversation + (f";messageid={thread}" if thread else "")
        data = body["channelData"]
        if "teamsChannelId" in data:
            data["teamsChannelId"] = conversation
        for where in (data.get("channel"), (data.get("settings") or {}).get("selectedChannel")):
            if where is not None:
                where["id"] = conversation
    return body


def replies_to(connector, activity_id: str) -> list:
    return [c for c in connector.ok() if c.kind == "reply" and c.activity_id == activity_id]


def test_every_recorded_shape_is_a_documented_teams_activity():
    shapes = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in PAYLOADS.glob("*.json")}
    assert set(shapes) == {"channel_message_mention.json", "personal_message.json", "invoke_action_execute.json",
                           "conversation_update_install.json"}
    for body in shapes.values():
        assert body["channelId"] == "msteams" and body["serviceUrl"].startswith("https://smba.trafficmanager.net/")
        assert body["recipient"]["id"].startswith("28:") and body["from"]["id"].startswith("29:")
        assert body["conversation"]["tenantId"] == body["channelData"]["tenant"]["id"]


def test_the_recorded_install_in_a_team_is_welcomed_once_and_its_channel_remembered(teams, connector, surge):
    body = recorded("conversation_update_install.json", connector, sender=DANA, conversation=DISPATCH)
    status, _ = teams.post(body)
    assert status in (200, 201)
    welcome = wait_for(lambda: connector.in_conversation(DISPATCH), what="the welcome in the channel")
    assert "Surge requests for this channel appear as cards" in welcome[0].text
    assert references.for_channel(surge.core.db, DISPATCH) is not None
    status, _ = teams.post(body)  # Teams re-delivers: no second welcome
    assert status in (200, 201) and len(connector.in_conversation(DISPATCH)) == 1


def test_the_recorded_channel_mention_is_answered_in_its_thread(installed, connector):
    body = recorded("channel_message_mention.json", connector, sender=DANA, conversation=DISPATCH)
    status, _ = installed.post(body)
    assert status in (200, 201)
    answer = wait_for(lambda: replies_to(connector, body["id"]), what="the answer to the mention")
    assert len(answer) == 1 and answer[0].conversation.startswith(DISPATCH)
    assert "request" in answer[0].text  # the dispatcher's help, not "I don't know `<at>Surge</at>`"
    assert "<at>" not in answer[0].text


def test_the_recorded_personal_message_is_answered_in_the_personal_chat(posted, connector):
    body = recorded("personal_message.json", connector, sender=TOM)
    status, _ = posted.post(body)
    assert status in (200, 201)
    answer = wait_for(lambda: replies_to(connector, body["id"]), what="the answer in the personal chat")
    assert answer[0].conversation == body["conversation"]["id"] and "SR-1" in answer[0].text


def test_the_recorded_action_execute_invoke_runs_the_button(posted, connector, surge):
    post = request_card(connector, PARTNERS, 1)
    pressed = button(post.card, "Claim all 40")
    body = recorded("invoke_action_execute.json", connector, sender=FRANK, conversation=PARTNERS,
                    thread=post.created_id)
    body["replyToId"] = post.created_id
    body["value"]["action"].update(verb=pressed["verb"], data=pressed.get("data", {}), title=pressed["title"])
    status, answer = posted.post(body)
    assert status == 200 and answer["type"] == CARD
    shown = json.dumps(card_of(answer), ensure_ascii=False)
    assert "40 of 40 units left" in shown and "acknowledge" in shown  # the card, with the guidelines gate under it
    status, again = posted.post(body)  # the same invoke re-delivered: the same answer, nothing done twice
    assert status == 200 and again == answer
