"""In Teams, `mine` typed in the personal chat is answered there as an Adaptive Card with the same
facts as the command (and as Slack's App Home tab)."""
from __future__ import annotations

import json

from handlers.types import Identity
from tests.teams.conftest import DANA, PAULA, POST_SR1, TOM


def test_mine_in_the_personal_chat_is_a_card_of_mines_facts(teams, surge):
    teams.say(PAULA, 'sign "Paula Admin"')
    teams.say(TOM, "guidelines ack")
    teams.say(DANA, POST_SR1)
    teams.say(TOM, "claim SR-1 8")
    teams.say(TOM, "done SR-1 8")
    teams.say(DANA, 'verify SR-1 "Tom Tech" 5')  # 5 × $35.00
    (answer,) = teams.say(TOM, "mine")
    assert answer.conversation == f"a:1on1-{TOM}" and answer.card is not None and answer.card["type"] == "AdaptiveCard"
    card = json.dumps(answer.card, ensure_ascii=False)
    mine = surge.core.handle_text(Identity(platform="teams", user_id=TOM), "mine")
    assert mine.fields
    for fact in mine.fields:
        assert fact.label in card and all(line in card for line in fact.value.splitlines())
    assert "$175.00 for 5 verified units" in card
