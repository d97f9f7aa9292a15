"""A digest of a big surge still fits what Slack and Teams accept, with every list folded (never cut
mid-line by the renderers): 200 live requests (100 of them late), long titles full of characters Slack
escapes, 30 open problems and 30 leads."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlmodel import select

from bot.charts import png
from bot.slack import blocks
from bot.teams import cards
from handlers.digest import digest_for
from handlers.digest_sections import SHOWN
from handlers.types import Audience, Message
from models.tables import Person

TITLE = "Rollout & re-image <{n}> for the R&D floor: laptops, docks & badge readers, floor {n} east wing & annex"


def test_a_digest_of_200_live_requests_fits_slack_and_teams(ready, core, clock):
    chat = ready
    for n in range(2, 202):  # SR-2 … SR-201: half due Tue 2 Mar (late by Thursday), a quarter due Fri 5 Mar
        due = "2027-03-02" if n % 2 else "2027-03-05" if n % 4 == 0 else "2027-03-20"  # (at risk), a quarter later
        chat.ok("Dana Dispatch", f'request "{TITLE.format(n=n)}" units=8 deadline={due} pay=30 bill=55 town=Hicksville')
    for n in range(2, 32):
        chat.ok("Tom Tech", f"claim SR-{n} 2")
        chat.ok("Tom Tech", f'problem SR-{n} "the {n}th cabinet is locked & the key <is> missing; site manager away"')
        chat.ok("Tom Tech", f'lead SR-{n} "they also want {n} new printers & a support contract"')
    clock.now = datetime(2027, 3, 4, 13, tzinfo=UTC)  # Thu 4 Mar 08:00 in New York
    with core.db.session() as s:
        morgan = s.exec(select(Person.id).where(Person.name == "Morgan Manager")).one()
        asked = digest_for(session=s, manager_id=morgan, day=date(2027, 3, 4), now=clock(), scheduled=False)
        scheduled = digest_for(session=s, manager_id=morgan, day=date(2027, 3, 4), now=clock())

    late = next(f.value for f in asked.fields if f.label.startswith("Late"))
    assert late.endswith("…and 95 more: `list`") and len(late.splitlines()) == SHOWN + 1
    at_risk = next(f.value for f in asked.fields if f.label.startswith("At risk"))
    assert at_risk.endswith("…and 45 more: `list`")  # SR-4, SR-8 … SR-200: 50 requests due Friday
    assert len(asked.chart.categories) == 20 and asked.chart.title.endswith("(the 20 soonest deadlines of 201)")

    picture = png(asked.chart)
    for reply in (asked, scheduled):
        sent = blocks.reply_blocks(reply)
        assert len(sent) < blocks.MAX_BLOCKS and "…more in Surge" not in json.dumps(sent)  # nothing dropped
        for block in sent:
            text = (block.get("text") or {}).get("text", "")
            assert len(text) <= blocks.SECTION_TEXT
            assert not text.endswith("…"), f"a section was cut by the renderer: {text[-80:]!r}"
        message = Message(audience=Audience.DM, person_id=morgan, title=reply.title, text=reply.text,
                          fields=reply.fields, chart=reply.chart, private=True)
        for card in (cards.reply_card(reply, chart_png=picture), cards.message_card(message, chart_png=picture)):
            assert cards.size(card) <= cards.MAX_CARD_BYTES
            assert any(item.get("type") == "Image" for item in card["body"]), "the chart fits beside the figures"
