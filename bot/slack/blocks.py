"""Block Kit rendering: pure functions from Surge's replies and messages to Slack JSON, no I/O.

Every text that may carry user input is escaped (`<!channel>` and `<@U…>` show as typed, never
notify anyone) and truncated with an ellipsis to Slack's limits; a message never exceeds 50 blocks.
"""
from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    TimePickerElement,
)
from slack_sdk.models.views import View

from bot.slack.ids import ActionId, BlockId, CallbackId, FormState
from bot.text import clip, safe_cut
from handlers.buttons import Button
from handlers.types import Action, Fact, Message, Reply, Tone

MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
MAX_MODAL_BLOCKS = 100
MAX_VIEW = 240_000  # Slack refuses views over 250 KB (`view_too_large`)
TONE_EMOJI = {Tone.INFO: "", Tone.SUCCESS: ":white_check_mark: ", Tone.WARNING: ":warning: ", Tone.ERROR: ":x: "}


def escape(text: str) -> str:
    """Slack's three control characters, so user text can never mention or link anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chunks(text: str, size: int, most: int) -> list[str]:
    """`text` in at most `most` pieces of at most `size` characters, each cut outside any entity; a text
    too long for them all ends with "…"."""
    if len(text) > size * most:
        text = clip(text, size * most)
    out, start = [], 0
    while start < len(text):
        end = len(text) if len(text) - start <= size else safe_cut(text, start + size)
        end = end if end > start else start + size  # (only for sizes shorter than an entity)
        out.append(text[start:end])
        start = end
    return out


def _plain(text: str, *, emoji: bool | None = None) -> dict:
    """A plain_text object as `slack_sdk.models` writes it: keys sorted, an empty or absent value left out."""
    out: dict = {} if emoji is None else {"emoji": emoji}
    if text:
        out["text"] = text
    out["type"] = "plain_text"
    return out


def _mrkdwn(text: str) -> dict:
    return {"text": text, "type": "mrkdwn"} if text else {"type": "mrkdwn"}


def _section(text: str) -> dict:
    return {"text": _mrkdwn(text), "type": "section"}


def _context(text: str) -> dict:
    return {"elements": [_mrkdwn(text)], "type": "context"}


def button(action: Action, index: int) -> dict:
    """A button carrying its `Button` state (ids, never names) as compact JSON in its `value`. Built as the
    dict `slack_sdk.models.blocks.ButtonElement` would write (the tests compare): a reply's buttons are on
    the hot path, and the typed models cost more to build than the rest of a `status`."""
    value = Button.of(action).value()
    if len(value) > BUTTON_VALUE:  # never truncate a command: drop the prefill instead
        value = Button.of(action, prefill=False).value()
    out: dict = {"action_id": f"{ActionId.BUTTON}.{index}"}
    if action.style in ("primary", "danger"):
        out["style"] = action.style
    if action.label:  # (the models leave an empty label out altogether)
        out["text"] = _plain(clip(action.label, BUTTON_TEXT), emoji=True)
    out.update(type="button", value=value)
    return out


def fact_value(fact: Fact) -> str:
    """A fact as mrkdwn; a moment is shown in each reader's own time zone, by Slack itself."""
    if fact.at is not None:
        return f"<!date^{int(fact.at.timestamp())}^{{date_short_pretty}} {{time}}|{escape(fact.value)}>"
    return escape(fact.value)


def _fields(facts: list[Fact]) -> list[dict]:
    blocks: list[dict] = []
    short = [f for f in facts if len(f.label) + len(f.value) < 300 and "\n" not in f.value]
    for i in range(0, len(short), 10):
        blocks.append({"fields": [_mrkdwn(clip(f"*{escape(f.label)}*\n{fact_value(f)}", FIELD_TEXT))
                                  for f in short[i:i + 10]], "type": "section"})
    for f in facts:
        if f not in short:
            blocks.append(_section(clip(f"*{escape(f.label)}*\n{escape(f.value)}", SECTION_TEXT)))
    return blocks


def blocks_for(title: str | None, text: str, facts: list[Fact], actions: list[Action], tone: Tone,
               *, footer: str | None = None) -> list[dict]:
    """A reply or a message as Block Kit, the dicts written directly in `slack_sdk.models`' form (keys sorted,
    empty values left out): the same JSON at a fraction of the cost; `tests/slack` compares the two."""
    blocks: list[dict] = []
    if title:
        blocks.append({"text": _plain(clip(title, HEADER_TEXT)), "type": "header"})
    if text:
        body = TONE_EMOJI[tone] + escape(text) if not title else escape(text)
        blocks += [_section(part) for part in chunks(body, SECTION_TEXT, 4)]
    blocks += _fields(facts)
    if actions:
        elements = [button(a, i) for i, a in enumerate(actions)]
        for i in range(0, min(len(elements), 25), 5):
            blocks.append({"elements": elements[i:i + 5], "type": "actions"})
    if footer:
        blocks.append(_context(clip(escape(footer), SECTION_TEXT)))
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1] + [_context("…more in Surge")]
    return blocks


def fallback(title: str | None, text: str) -> str:
    """The notification text (and what screen readers read)."""
    return clip(escape(f"{title}: {text}" if title and text else title or text or "Surge"), SECTION_TEXT)


def reply_blocks(reply: Reply) -> list[dict]:
    return blocks_for(reply.title, reply.text, reply.fields, reply.actions, reply.tone)


def message_blocks(message: Message) -> list[dict]:
    return blocks_for(message.title, message.text, message.fields, message.actions, message.tone)


def home_view(reply: Reply) -> dict:
    blocks = blocks_for(reply.title, reply.text, [], [], reply.tone)
    for fact in reply.fields:
        blocks.append(DividerBlock().to_dict())
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=clip(f"*{escape(fact.label)}*\n{escape(fact.value)}", SECTION_TEXT))).to_dict())
    if reply.actions:
        blocks.append({"elements": [button(a, i) for i, a in enumerate(reply.actions[:25])], "type": "actions"})
    return View(type="home", blocks=blocks[:100]).to_dict()


# -- forms ------------------------------------------------------------------------------------

def _text_input(block: BlockId, label: str, *, initial: str | None = None, optional: bool = True,
                multiline: bool = False, max_length: int = 200, hint: str | None = None) -> InputBlock:
    return InputBlock(
        block_id=block, label=PlainTextObject(text=label), optional=optional,
        hint=PlainTextObject(text=hint) if hint else None,
        element=PlainTextInputElement(action_id="value", initial_value=initial or None, multiline=multiline,
                                      max_length=max_length),
    )


def _modal(callback: CallbackId, title: str, submit: str, blocks: list[Block], state: FormState) -> dict:
    return View(type="modal", callback_id=callback, title=PlainTextObject(text=clip(title, 24)),
                submit=PlainTextObject(text=submit), close=PlainTextObject(text="Cancel"),
                private_metadata=state.model_dump_json(exclude_none=True), blocks=blocks[:MAX_MODAL_BLOCKS]).to_dict()


def request_modal(state: FormState, prefill: dict[str, str]) -> dict:
    deadline = prefill.get("deadline", "")
    approves = Option(value="yes", text=PlainTextObject(text="A dispatcher approves each claim"))
    blocks: list[Block] = [
        _text_input(BlockId.TITLE, "Title", initial=prefill.get("title"), optional=False, max_length=150),
        InputBlock(block_id=BlockId.UNITS, label=PlainTextObject(text="Units"),
                   element=NumberInputElement(action_id="value", is_decimal_allowed=False, min_value="1",
                                              initial_value=prefill.get("units"))),
        InputBlock(block_id=BlockId.DEADLINE, label=PlainTextObject(text="Deadline (date)"),
                   element=DatePickerElement(action_id="value", initial_date=deadline[:10] or None)),
        InputBlock(block_id=f"{BlockId.DEADLINE}_time", label=PlainTextObject(text="Deadline (time)"), optional=True,
                   element=TimePickerElement(action_id="value", initial_time=deadline[11:16] or "17:00")),
        _text_input(BlockId.MINUTES, "Minutes per unit", initial=prefill.get("minutes", "30")),
        _text_input(BlockId.PAY, "Pay per unit to the partner ($)", initial=prefill.get("pay")),
        _text_input(BlockId.BILL, "Bill rate per unit to the customer ($)", initial=prefill.get("bill")),
        _text_input(BlockId.SKILLS, "Skills (comma separated)", initial=prefill.get("skills")),
        _text_input(BlockId.SCOPE, "Scope", multiline=True, max_length=2000, initial=prefill.get("scope")),
        _text_input(BlockId.TOWN, "Town (shown to partners)", max_length=120, initial=prefill.get("town")),
        _text_input(BlockId.CUSTOMER, "Customer (private)", initial=prefill.get("customer")),
        _text_input(BlockId.SITE, "Site address (private)", max_length=300, initial=prefill.get("site")),
        _text_input(BlockId.CONTACT, "Contact (private)", max_length=300, initial=prefill.get("contact")),
        InputBlock(block_id=BlockId.APPROVAL, label=PlainTextObject(text="Approval"), optional=True,
                   element=CheckboxesElement(action_id="value", options=[approves],
                                             initial_options=[approves] if prefill.get("approval") == "yes" else None)),
        _text_input(BlockId.TIER, "Partner tier", initial=prefill.get("tier", "1"), max_length=1),
    ]
    if state.edit is not None:  # opened by `edit SR-n`: the same form, saving the changes to SR-n
        return _modal(CallbackId.REQUEST_FORM, f"Edit SR-{state.edit}", "Save", blocks, state)
    return _modal(CallbackId.REQUEST_FORM, "New surge request", "Post", blocks, state)


def view_size(view: dict) -> int:
    """A view's size as sent to Slack (JSON with every non-ASCII character escaped, as slack_sdk sends it)."""
    return len(json.dumps(view))


def sign_modal(state: FormState, title: str, version: str, text: str) -> dict:
    """The agreement and the signature. The roster sets no length for an agreement: a text too long for
    one view (`MAX_VIEW`) is shown up to there, with a line saying how long the whole is."""
    head = [HeaderBlock(text=PlainTextObject(text=clip(f"{title} · version {version}", HEADER_TEXT)))]
    inputs: list[Block] = [
        _text_input(BlockId.NAME, "Your full name", optional=False, hint="As it appears on the roster"),
        InputBlock(block_id=BlockId.AGREE, label=PlainTextObject(text="Agreement"), element=CheckboxesElement(
            action_id="value", options=[Option(value="agree", text=PlainTextObject(
                text="I agree, on behalf of my company, to this agreement"))])),
    ]
    body = escape(text)
    parts = chunks(body, SECTION_TEXT, MAX_MODAL_BLOCKS - len(head) - len(inputs))
    note = (f"…\n\n_(The agreement is {len(text):,} characters, more than a Slack form holds; "
            "read the whole text before signing.)_")

    def view(blocks: list[Block]) -> dict:
        return _modal(CallbackId.SIGN_FORM, "Sign the agreement", "Sign", blocks, state)

    room = MAX_VIEW - len(note) - view_size(view(head + inputs))
    shown: list[str] = []
    for part in parts:
        room -= view_size({"type": "section", "text": {"type": "mrkdwn", "text": part}}) + 1
        if room < 0:
            break
        shown.append(part)
    if sum(map(len, shown)) < len(body):  # left out: say so, in place of the last piece's end
        last = shown.pop().removesuffix("…") if shown else ""
        shown.append(last[: safe_cut(last, SECTION_TEXT - len(note))] + note)
    return view(head + [SectionBlock(text=MarkdownTextObject(text=part)) for part in shown] + inputs)


def claim_some_modal(state: FormState, label: str) -> dict:
    blocks = [SectionBlock(text=MarkdownTextObject(text=escape(label))),
              InputBlock(block_id=BlockId.UNITS, label=PlainTextObject(text="How many units?"),
                         element=NumberInputElement(action_id="value", is_decimal_allowed=False, min_value="1"))]
    return _modal(CallbackId.CLAIM_SOME_FORM, "Claim units", "Claim", blocks, state)


def reject_modal(state: FormState, label: str, title: str = "Reject or send back") -> dict:
    blocks = [SectionBlock(text=MarkdownTextObject(text=escape(label))),
              _text_input(BlockId.WHY, "Why? (the tech sees this)", optional=False, multiline=True, max_length=1000)]
    return _modal(CallbackId.REJECT_FORM, title, "Send", blocks, state)


def reassign_modal(state: FormState, label: str) -> dict:
    blocks = [SectionBlock(text=MarkdownTextObject(text=escape(label))),
              _text_input(BlockId.TO, "Give it to", optional=False, hint="A name, like Frank Fabrikam or Frank"),
              InputBlock(block_id=BlockId.UNITS, label=PlainTextObject(text="How many units? (all if empty)"),
                         optional=True, element=NumberInputElement(action_id="value", is_decimal_allowed=False,
                                                                   min_value="1"))]
    return _modal(CallbackId.REASSIGN_FORM, "Reassign a claim", "Reassign", blocks, state)
