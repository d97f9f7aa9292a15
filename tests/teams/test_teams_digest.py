"""The morning digest in Teams: the manager's card carries the chart as an Adaptive Card Image whose
`data:` URI is the PNG itself, and the card stays under Teams' size limit."""
from __future__ import annotations

import base64
import json

from bot.teams import cards
from handlers.clock import run_due
from tests.harness import wait_for
from tests.teams.conftest import MORGAN, settle
from tests.teams.fake_connector import elements

PNG = b"\x89PNG\r\n\x1a\n"
DATA_URI = "data:image/png;base64,"


def images(card: dict | None) -> list[dict]:
    """Every Image element of a card."""
    return [node for node in elements(card) if node.get("type") == "Image"]


def chart_png(card: dict | None) -> bytes:
    (image,) = images(card)
    assert image["url"].startswith(DATA_URI) and image["altText"].startswith("Units by status")
    return base64.b64decode(image["url"].removeprefix(DATA_URI), validate=True)


def test_the_clocks_digest_reaches_the_manager_with_its_chart_drawn_in(posted, connector, surge, clock):
    posted.say("29:1frank", "guidelines ack")
    posted.say("29:1frank", "claim SR-1 10")  # so the chart has claimed and open units
    settle(surge)
    sent = run_due(surge.core.db, clock(), home_timezone="America/New_York")  # 09:00 in New York
    assert any(key.startswith("digest:") for key in sent)
    dm = wait_for(lambda: [c for c in connector.dms_to(MORGAN) if "Surge digest" in c.text], what="Morgan's digest")
    assert len(dm) == 1
    card = dm[0].card
    png = chart_png(card)
    assert png.startswith(PNG) and len(png) > 2000
    assert cards.size(card) <= cards.MAX_CARD_BYTES
    assert len(json.dumps(dm[0].body).encode()) < 100_000  # what Teams itself accepts
    assert "Surge digest" in json.dumps(card)  # the figures are there too, not only the picture
    settle(surge)
    assert run_due(surge.core.db, clock(), home_timezone="America/New_York") == []  # never twice a day
    assert len([c for c in connector.dms_to(MORGAN) if "Surge digest" in c.text]) == 1


def test_the_digest_command_answers_with_the_chart_too(posted, connector):
    (answer,) = posted.say(MORGAN, "digest")
    assert "Surge digest" in answer.text
    assert chart_png(answer.card).startswith(PNG)


def test_a_chart_that_would_take_the_card_over_the_limit_is_left_out_and_said_so():
    base = cards.card([{"type": "TextBlock", "text": "Surge digest", "wrap": True}])
    png = PNG + bytes(range(256)) * 40  # ~10 KB, ~14 KB as base64
    fitted = cards.with_chart(json.loads(json.dumps(base)), "Units by status", png)
    assert chart_png(fitted) == png
    small = cards.size(base) + 5_000
    left_out = cards.with_chart(json.loads(json.dumps(base)), "Units by status", png, limit=small)
    assert images(left_out) == [] and cards.size(left_out) <= small
    assert "The chart (Units by status) is too large for a Teams message" in json.dumps(left_out)
