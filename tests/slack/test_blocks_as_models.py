"""`blocks.py` writes a reply's Block Kit as dicts directly, for speed: they must be, byte for byte, what
bolt's typed `slack_sdk.models.blocks` make of the same reply (keys sorted, empty values left out). The
models' version is kept here as the reference, and any reply, however odd, renders the same through both."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.slack import blocks as b
from bot.slack.ids import ActionId
from bot.text import clip
from handlers.buttons import Button
from handlers.types import Action, ActionKind, Fact, Reply, Tone


def model_button(action: Action, index: int) -> ButtonElement:
    value = Button.of(action).value()
    if len(value) > b.BUTTON_VALUE:
        value = Button.of(action, prefill=False).value()
    return ButtonElement(
        text=clip(action.label, b.BUTTON_TEXT), action_id=f"{ActionId.BUTTON}.{index}", value=value,
        style=action.style if action.style in ("primary", "danger") else None,
    )


def model_blocks(title, text, facts, actions, tone, *, footer=None) -> list[dict]:
    """`blocks_for` as it was written with `slack_sdk.models`."""
    out: list[Block] = []
    if title:
        out.append(HeaderBlock(text=PlainTextObject(text=clip(title, b.HEADER_TEXT))))
    if text:
        body = b.TONE_EMOJI[tone] + b.escape(text) if not title else b.escape(text)
        out += [SectionBlock(text=MarkdownTextObject(text=part)) for part in b.chunks(body, b.SECTION_TEXT, 4)]
    short = [f for f in facts if len(f.label) + len(f.value) < 300 and "\n" not in f.value]
    for i in range(0, len(short), 10):
        out.append(SectionBlock(fields=[
            MarkdownTextObject(text=clip(f"*{b.escape(f.label)}*\n{b.fact_value(f)}", b.FIELD_TEXT))
            for f in short[i:i + 10]]))
    for f in facts:
        if f not in short:
            out.append(SectionBlock(text=MarkdownTextObject(
                text=clip(f"*{b.escape(f.label)}*\n{b.escape(f.value)}", b.SECTION_TEXT))))
    if actions:
        elements = [model_button(a, i) for i, a in enumerate(actions)]
        for i in range(0, min(len(elements), 25), 5):
            out.append(ActionsBlock(elements=elements[i:i + 5]))
    if footer:
        out.append(ContextBlock(elements=[MarkdownTextObject(text=clip(b.escape(footer), b.SECTION_TEXT))]))
    if len(out) > b.MAX_BLOCKS:
        out = out[: b.MAX_BLOCKS - 1] + [ContextBlock(elements=[MarkdownTextObject(text="…more in Surge")])]
    return [block.to_dict() for block in out]


def same(title, text, facts, actions, tone, footer=None) -> None:
    got = b.blocks_for(title, text, facts, actions, tone, footer=footer)
    assert json.dumps(got) == json.dumps(model_blocks(title, text, facts, actions, tone, footer=footer))


def buttonable(action: Action) -> bool:
    try:
        Button.of(action)
    except ValueError:  # (pydantic's ValidationError): a kind that needs ids it was not given
        return False
    return True


words = st.text(alphabet=st.sampled_from(list("ab <>&@!|*\n🚀é\"")), max_size=40)
facts = st.builds(Fact, label=words, value=words | st.just("x" * 400),
                  at=st.none() | st.just(datetime(2027, 3, 10, 17, tzinfo=UTC)))
actions = st.builds(Action, kind=st.sampled_from(list(ActionKind)), label=words | st.just("L" * 90),
                    command=st.sampled_from(["status SR-7", "claim SR-7", 'approve SR-7 "Tom"']),
                    style=st.sampled_from([None, "primary", "danger", "other"]),
                    request_id=st.none() | st.just(7), person_id=st.none() | st.just(3),
                    prefill=st.just({}) | st.just({"title": "t" * 2500})).filter(lambda a: buttonable(a))


@settings(max_examples=300, deadline=None)
@given(title=st.none() | words, text=words, facts=st.lists(facts, max_size=25),
       actions=st.lists(actions, max_size=30), tone=st.sampled_from(list(Tone)), footer=st.none() | words)
def test_any_reply_renders_as_the_models_render_it(title, text, facts, actions, tone, footer):
    same(title, text, facts, actions, tone, footer)


def test_long_and_empty_replies_render_as_the_models_render_them():
    huge = "🚀 ünïcødé &amp; " * 2000
    same(huge, huge * 3, [Fact(label=f"f{i}", value=huge if i % 3 else "short") for i in range(120)],
         [Action(kind=ActionKind.RUN, label=huge, command=f"status SR-{i}") for i in range(40)], Tone.WARNING, huge)
    same(None, "", [], [], Tone.INFO)
    same("", "text", [Fact(label="", value="")], [Action(kind=ActionKind.RUN, label="", command="list")], Tone.ERROR)


def test_a_reply_and_the_home_view_render_through_the_same_blocks():
    reply = Reply(title="SR-1", text="Open", fields=[Fact(label="Area", value="Hicksville")],
                  actions=[Action(kind=ActionKind.RUN, label="Claim", command="claim SR-1", style="primary")])
    assert b.reply_blocks(reply) == model_blocks(reply.title, reply.text, reply.fields, reply.actions, reply.tone)
    assert b.home_view(reply)["blocks"][-1] == ActionsBlock(elements=[model_button(reply.actions[0], 0)]).to_dict()
