"""Block Kit rendering alone: Slack's limits hold for any input, and dates follow the reader."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.slack import blocks
from handlers.buttons import Button
from handlers.types import Action, ActionKind, Fact, Reply, Tone


def sizes_ok(rendered: list[dict]) -> None:
    assert len(rendered) <= blocks.MAX_BLOCKS
    for b in rendered:
        if b["type"] == "header":
            assert len(b["text"]["text"]) <= 150
        if b["type"] == "section":
            assert len(b.get("text", {}).get("text", "")) <= 3000
            assert all(len(f["text"]) <= 2000 for f in b.get("fields", []))
            assert len(b.get("fields", [])) <= 10
        if b["type"] == "actions":
            assert len(b["elements"]) <= 25
            assert all(len(e["text"]["text"]) <= 75 and len(e["value"]) <= 2000 for e in b["elements"])


def test_huge_input_stays_within_slack_limits():
    huge = "🚀 ünïcødé " * 2000
    reply = Reply(title=huge, text=huge * 3, tone=Tone.WARNING,
                  fields=[Fact(label=f"f{i}", value=huge if i % 3 else "short") for i in range(120)],
                  actions=[Action(kind=ActionKind.RUN, label=huge, command=f"status SR-{i}") for i in range(40)])
    rendered = blocks.reply_blocks(reply)
    sizes_ok(rendered)
    assert rendered[0]["text"]["text"].endswith("…")
    assert any(b["type"] == "context" and "more in Surge" in str(b) for b in rendered)


def test_a_button_on_a_claim_carries_ids_never_the_name():
    name = 'Dana "DJ" Ortiz'
    reply = Reply(text="x", actions=[Action(kind=ActionKind.APPROVE, label=f"Approve {name}", style="primary",
                                            command=f'approve SR-7 "{name}"', then="claim SR-7 5",
                                            request_id=7, person_id=12)])
    [actions] = [b for b in blocks.reply_blocks(reply) if b["type"] == "actions"]
    button = actions["elements"][0]
    assert button["style"] == "primary" and "Dana" not in button["value"]
    assert json.loads(button["value"]) == {"k": "approve", "r": 7, "p": 12, "t": "claim SR-7 5"}
    assert Button.read(button["value"]).action().person_id == 12


def test_a_button_naming_nobody_carries_its_command_whole():
    reply = Reply(text="x", actions=[Action(kind=ActionKind.CLAIM_SOME, label="Claim some…", command="claim SR-7",
                                            prefill={"units": "5"})])
    [actions] = [b for b in blocks.reply_blocks(reply) if b["type"] == "actions"]
    assert json.loads(actions["elements"][0]["value"]) == {"k": "claim_some", "c": "claim SR-7", "f": {"units": "5"}}


def test_deadlines_are_shown_in_each_readers_time_zone():
    at = datetime(2030, 3, 10, 22, 0, tzinfo=UTC)
    [section] = blocks.reply_blocks(Reply(text="", fields=[Fact(label="Deadline", value="Sun 10 Mar 2030 18:00 EDT",
                                                                at=at)]))
    assert section["fields"][0]["text"] == (f"*Deadline*\n<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}"
                                             "|Sun 10 Mar 2030 18:00 EDT>")


def test_user_text_is_escaped_everywhere_it_is_parsed():
    reply = Reply(title="<!here>", text="<!channel> & <@U1>", fields=[Fact(label="<b>", value="<!everyone>")])
    rendered = str(blocks.reply_blocks(reply))
    assert "<!channel>" not in rendered and "<!everyone>" not in rendered and "&lt;@U1&gt;" in rendered
    assert blocks.fallback(reply.title, reply.text).startswith("&lt;!here&gt;")
