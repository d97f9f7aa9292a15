"""Teams buttons carry the same small typed model as Slack's (request id, person id), never a command with
a name in quotes: `Dana "DJ" Ortiz` is approved, sent back and verified by card button; a forged or garbled
`data` gets a plain answer and changes nothing."""
from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import Chat
from tests.harness import wait_for
from tests.teams.conftest import (
    DANA,
    DISPATCH,
    PARTNERS,
    assert_partner_conversations_kept_private,
    start_surge,
    teams_roster,
)
from tests.teams.fake_connector import Teams, button, card_of

DJ, DJ_ID = 'Dana "DJ" Ortiz', "29:1dj"
MESSAGE = "application/vnd.microsoft.activity.message"
SWAP = 'request "Swap" units=10 deadline=2027-03-10 pay=35 bill=60 tier=2 approval=yes town=Mineola'


def roster_with_dj() -> str:
    data = yaml.safe_load(teams_roster())
    data["people"].append({"name": DJ, "org": "Fabrikam Tech", "roles": ["tech"], "teams": DJ_ID})
    return yaml.safe_dump(data, sort_keys=False)


@pytest.fixture
def with_dj(db_url, clock, connector):
    running = start_surge(db_url, clock, roster=roster_with_dj())
    teams = Teams(running.server.url, connector)
    teams.install(channel=PARTNERS)
    teams.install(channel=DISPATCH)
    teams.say(DANA, SWAP)
    teams.say(DJ_ID, "guidelines ack")
    teams.say(DJ_ID, "claim SR-1 3")
    yield running, teams
    assert_partner_conversations_kept_private(running, connector)
    running.server.stop()
    running.core.db.dispose()


def texts(node) -> list[str]:
    """Every text on a card, as the reader sees it."""
    out = []
    if isinstance(node, dict):
        if isinstance(node.get("text"), str):
            out.append(node["text"])
        node = list(node.values())
    for child in node if isinstance(node, list) else []:
        out += texts(child)
    return out


def notice(connector, words: str, count: int = 1):
    return wait_for(lambda: (found := [c for c in connector.in_conversation(DISPATCH, "post") if words in c.text])
                    and len(found) >= count and found[-1], what=f"a dispatch notice saying {words!r}")


def test_a_name_with_quotes_is_approved_sent_back_and_verified_by_card_button(with_dj, connector):
    _, teams = with_dj
    asks = notice(connector, "asks for 3 units")
    approve = button(asks.card, "Approve")
    assert "Ortiz" not in json.dumps(approve["data"]) and approve["data"]["surge"]["button"]["k"] == "approve"
    _, answer, _ = teams.click(DANA, approve, channel=DISPATCH, card_id=asks.created_id)
    assert answer["type"] == MESSAGE and "Approved" in answer["value"]

    teams.say(DJ_ID, "done SR-1")
    reported = notice(connector, "reports 3 units")
    _, answer, _ = teams.click(DANA, button(reported.card, "Send back"), channel=DISPATCH,
                               card_id=reported.created_id)
    form = card_of(answer)
    assert "SR-1" in json.dumps(form)
    _, answer, _ = teams.click(DANA, button(form, "Send"), inputs={"why": 'the "server room" door was left open'},
                               channel=DISPATCH, card_id=reported.created_id)
    assert f"Sent {DJ}'s work on SR-1 back." in texts(card_of(answer))

    teams.say(DJ_ID, "done SR-1")
    again = notice(connector, "reports 3 units", count=2)
    _, answer, _ = teams.click(DANA, button(again.card, "Verify"), channel=DISPATCH, card_id=again.created_id)
    assert answer["type"] == MESSAGE and "Verified" in answer["value"]


def test_forged_and_garbled_card_data_is_answered_and_changes_nothing(with_dj, connector):
    running, teams = with_dj
    asks = notice(connector, "asks for 3 units")
    approve = button(asks.card, "Approve")
    chat = Chat(running.core)
    before = {k: v for k, v in chat.state().items() if not k.startswith(("outbox", "posted_card"))}
    for forged in ({"k": "approve", "c": 'approve SR-1 "Dana"'}, {"k": "approve", "r": 1},
                   {"k": "approve", "r": 1, "p": 4, "x": 1}, {"k": 5}, "approve SR-1 Dana"):
        state = {**approve["data"]["surge"], "button": forged}
        _, answer, _ = teams.click(DANA, {**approve, "data": {"surge": state}}, channel=DISPATCH,
                                   card_id=asks.created_id)
        assert answer["type"] == MESSAGE and "can't be read" in answer["value"], (forged, answer)
    after = {k: v for k, v in chat.state().items() if not k.startswith(("outbox", "posted_card"))}
    assert after == before
