"""Adaptive Cards 1.5: pure functions from Surge's replies and messages to Teams JSON, no I/O.

Buttons are `Action.Execute` (Universal Actions): a click reaches the bot as an `adaptiveCard/action`
invoke, and the bot answers with the card the clicker sees next. Each button carries a `CardState`.
Every card is kept under Teams' message size limit (`fit`): the longest texts are shortened first.
A message's chart is drawn as an Image with a `data:` URI (the PNG itself, base64), added only when
the card stays under the limit; otherwise the card says the picture was left out.
"""
from __future__ import annotations

import base64
import json
import re

from bot.teams.ids import CARD_CONTENT_TYPE, CardState, Origin, Verb
from bot.text import clip
from handlers.buttons import Button
from handlers.forms import FormField
from handlers.types import Action, ActionKind, Audience, Fact, Form, Message, Reply, Tone

MAX_CARD_BYTES = 80_000  # Teams refuses messages over ~100 KB (UTF-16 code units); stay well below
BUTTON_TEXT = 60
ACTIONS_PER_SET = 5
MAX_ACTIONS = 20
SHORT_FACT = 300
SIGN_TEXT = 60_000  # the agreement shown in the sign form, as sent (see `size`)
MAX_BLOCKS = 150  # TextBlocks per text
MAX_FACTS = 60
STYLE = {Tone.INFO: "default", Tone.SUCCESS: "good", Tone.WARNING: "warning", Tone.ERROR: "attention"}
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")


def markdown(text: str) -> str:
    """Surge writes Slack-style `*bold*`; Adaptive Cards' Markdown wants `**bold**`."""
    return _BOLD.sub(r"**\1**", text)


def text_blocks(text: str, **style) -> list[dict]:
    """One TextBlock per line (Teams folds single newlines inside a TextBlock); past `MAX_BLOCKS`
    lines, the rest share a last block as paragraphs."""
    blocks, gap = [], False
    lines = text.splitlines() or [text]
    if len(lines) > MAX_BLOCKS:
        lines = lines[:MAX_BLOCKS - 1] + ["\n\n".join(line for line in lines[MAX_BLOCKS - 1:] if line.strip())]
    for line in lines:
        if not line.strip():
            gap = True
            continue
        block = {"type": "TextBlock", "text": markdown(line), "wrap": True, **style}
        if blocks:
            block["spacing"] = "Medium" if gap else "None"
        blocks.append(block)
        gap = False
    return blocks


def button(action: Action, base: CardState) -> dict:
    """An `Action.Execute` carrying its `Button` state (ids, never names) in its `data`."""
    state = base.model_copy(update={"button": Button.of(action), "label": clip(action.label, BUTTON_TEXT),
                                    "form": None})
    out = {"type": "Action.Execute", "title": clip(action.label, BUTTON_TEXT), "verb": Verb.RUN, "data": state.data()}
    if action.style in ("primary", "danger"):
        out["style"] = "positive" if action.style == "primary" else "destructive"
    return out


def action_sets(actions: list[dict]) -> list[dict]:
    actions = actions[:MAX_ACTIONS]
    return [{"type": "ActionSet", "actions": actions[i:i + ACTIONS_PER_SET]}
            for i in range(0, len(actions), ACTIONS_PER_SET)]


def fact_items(facts: list[Fact]) -> list[dict]:
    facts = facts[:MAX_FACTS]
    short = [f for f in facts if len(f.label) + len(f.value) < SHORT_FACT and "\n" not in f.value]
    items: list[dict] = []
    if short:
        items.append({"type": "FactSet", "facts": [{"title": f.label, "value": f.value} for f in short]})
    for f in facts:
        if f not in short:
            items.append({"type": "TextBlock", "text": f"**{f.label}**", "wrap": True, "spacing": "Medium"})
            items += text_blocks(f.value)
    return items


def body_for(title: str | None, text: str, facts: list[Fact], actions: list[Action], tone: Tone,
             base: CardState) -> list[dict]:
    items: list[dict] = []
    if title:
        items.append({"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True})
    if text:
        items += text_blocks(text)
    items += fact_items(facts)
    items += action_sets([button(a, base) for a in actions])
    if tone is Tone.INFO:
        return items
    return [{"type": "Container", "style": STYLE[tone], "items": items}]


def card(body: list[dict]) -> dict:
    return fit({"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "version": "1.5", "msteams": {"width": "Full"}, "body": body})


def attachment(content: dict) -> dict:
    return {"contentType": CARD_CONTENT_TYPE, "content": content}


def fallback(title: str | None, text: str) -> str:
    """The notification summary (and what screen readers read first)."""
    return clip(f"{title}: {text}" if title and text else title or text or "Surge", 300).replace("*", "")


# -- replies and messages ---------------------------------------------------------------------

def is_request_card(message: Message) -> bool:
    """A request card's partner or dispatch copy (`handlers.views`), as opposed to a notice."""
    return (message.request_id is not None and message.audience in (Audience.PARTNERS, Audience.DISPATCH)
            and (message.title or "").startswith(f"SR-{message.request_id} "))


def message_base(message: Message) -> CardState:
    if is_request_card(message):
        return CardState(origin=Origin.REQUEST, request_id=message.request_id, audience=message.audience)
    return CardState(origin=Origin.MESSAGE)


def message_card(message: Message, *, chart_png: bytes | None = None) -> dict:
    """A message for a channel or a DM: a request card, a notice, a job's details, a digest (with
    its chart, drawn by the caller as `chart_png`)."""
    content = card(body_for(message.title, message.text, message.fields, message.actions, message.tone,
                            message_base(message)))
    return with_chart(content, message.chart.title, chart_png) if message.chart and chart_png else content


def reply_card(reply: Reply, base: CardState | None = None, *, chart_png: bytes | None = None) -> dict:
    """The answer to the sender."""
    content = card(body_for(reply.title, reply.text, reply.fields, reply.actions, reply.tone,
                            base or CardState(origin=Origin.REPLY)))
    return with_chart(content, reply.chart.title, chart_png) if reply.chart and chart_png else content


def png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def with_chart(content: dict, title: str, png: bytes, limit: int = MAX_CARD_BYTES) -> dict:
    """The card with its chart under the text, or, when the picture would take the card over `limit`,
    a line saying it was left out (the figures in the text stand on their own)."""
    image = {"type": "Image", "url": png_uri(png), "altText": title, "size": "Stretch", "spacing": "Medium"}
    if size(content) + size(image) + 1 <= limit:
        content["body"].append(image)
    else:
        content["body"].append({"type": "TextBlock", "wrap": True, "isSubtle": True, "spacing": "Medium",
                                "text": f"The chart ({title}) is too large for a Teams message, so it was left "
                                        "out; the figures above say the same."})
        content = fit(content, limit)
    return content


def request_card_with(message: Message, *, answer: Reply | None = None, form: list[dict] | None = None) -> dict:
    """A request card as it stands, with the clicker's answer or a form under it (seen by the clicker only)."""
    base = message_base(message)
    body = body_for(message.title, message.text, message.fields, message.actions, message.tone, base)
    if answer is not None:
        body.append({"type": "Container", "separator": True, "spacing": "Medium", "style": STYLE[answer.tone],
                     "items": body_for(answer.title, answer.text, answer.fields, answer.actions, Tone.INFO, base)})
    if form:
        body.append({"type": "Container", "separator": True, "spacing": "Medium", "items": form})
    return card(body)


# -- forms ------------------------------------------------------------------------------------

def _error(errors: dict[str, str], key: str) -> list[dict]:
    if key not in errors:
        return []
    return [{"type": "TextBlock", "text": errors[key], "color": "Attention", "wrap": True, "spacing": "None",
             "size": "Small"}]


def _text(key: FormField, label: str, values: dict, errors: dict, *, required: bool = False, max_length: int = 200,
          multiline: bool = False, placeholder: str | None = None, regex: str | None = None,
          message: str | None = None) -> list[dict]:
    item = {"type": "Input.Text", "id": key, "label": label, "maxLength": max_length,
            "value": str(values.get(key) or "")}
    if required:
        item |= {"isRequired": True, "errorMessage": message or f"{label} is required."}
    if multiline:
        item["isMultiline"] = True
    if placeholder:
        item["placeholder"] = placeholder
    if regex:
        item |= {"regex": regex, "errorMessage": message or f"Check {label.lower()}."}
    return [item, *_error(errors, key)]


def _number(key: FormField, label: str, values: dict, errors: dict, *, required: bool = False, low: int = 1,
            high: int | None = None) -> list[dict]:
    item = {"type": "Input.Number", "id": key, "label": label, "min": low}
    if high is not None:
        item["max"] = high
    value = values.get(key)
    if value not in (None, ""):
        try:
            item["value"] = int(str(value))
        except ValueError:
            pass
    if required:
        item |= {"isRequired": True, "errorMessage": f"{label}: a whole number of at least {low}."}
    return [item, *_error(errors, key)]


def _buttons(state: CardState, submit: str) -> dict:
    return {"type": "ActionSet", "actions": [
        {"type": "Action.Execute", "title": submit, "verb": Verb.SUBMIT, "style": "positive", "data": state.data()},
        {"type": "Action.Execute", "title": "Cancel", "verb": Verb.CANCEL, "associatedInputs": "none",
         "data": state.data()},
    ]}


def _head(title: str, note: str | None, errors: dict) -> list[dict]:
    out = [{"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True}]
    if note:
        out += text_blocks(note, isSubtle=True)
    return out + _error(errors, "")


MONEY = r"^\$?\d{1,7}(\.\d{1,2})?$"


def request_form(state: CardState, values: dict, errors: dict[str, str] | None = None) -> list[dict]:
    """The request form's body items. `values` are the prefill or what was submitted."""
    errors = errors or {}
    v = {k: str(x) for k, x in values.items()}
    return [
        *_head(f"Edit SR-{state.edit}" if state.edit else "New surge request",
               "Customer, site and contact stay private: partners see the town only.", errors),
        *_text(FormField.TITLE, "Title", v, errors, required=True, max_length=150),
        *_number(FormField.UNITS, "Units", v, errors, required=True),
        {"type": "Input.Date", "id": FormField.DEADLINE, "label": "Deadline (date)", "isRequired": True,
         "errorMessage": "Pick the deadline.", "value": v.get(FormField.DEADLINE, "")[:10]},
        *_error(errors, FormField.DEADLINE),
        {"type": "Input.Time", "id": FormField.DEADLINE_TIME, "label": "Deadline (time)",
         "value": v.get(FormField.DEADLINE_TIME) or v.get(FormField.DEADLINE, "")[11:16] or "17:00"},
        *_number(FormField.MINUTES, "Minutes per unit", {FormField.MINUTES: "30", **v}, errors),
        *_text(FormField.PAY, "Pay per unit to the partner ($)", v, errors, regex=MONEY,
               message="Pay: dollars, like 35 or 35.50."),
        *_text(FormField.BILL, "Bill rate per unit to the customer ($)", v, errors, regex=MONEY,
               message="Bill: dollars, like 60."),
        *_text(FormField.SKILLS, "Skills (comma separated)", v, errors),
        *_text(FormField.SCOPE, "Scope", v, errors, multiline=True, max_length=2000),
        *_text(FormField.TOWN, "Town (shown to partners)", v, errors, max_length=120),
        *_text(FormField.CUSTOMER, "Customer (private)", v, errors),
        *_text(FormField.SITE, "Site address (private)", v, errors, max_length=300),
        *_text(FormField.CONTACT, "Contact (private)", v, errors, max_length=300),
        {"type": "Input.Toggle", "id": FormField.APPROVAL, "title": "A dispatcher approves each claim",
         "valueOn": "yes", "valueOff": "no", "value": "yes" if v.get(FormField.APPROVAL) in ("yes", "true") else "no"},
        *_number(FormField.TIER, "Partner tier", {FormField.TIER: "1", **v}, errors, high=9),
        _buttons(state.model_copy(update={"form": Form.REQUEST}), "Save" if state.edit else "Post"),
    ]


def sign_form(state: CardState, title: str, version: str, text: str, values: dict,
              errors: dict[str, str] | None = None) -> list[dict]:
    """The agreement and the signature. The roster sets no length for an agreement: a text longer than
    `SIGN_TEXT` (as sent) is shown up to there, with a line saying how long the whole is."""
    errors = errors or {}
    kept = _prefix_within(text, SIGN_TEXT)
    shown = text if kept == len(text) else (
        text[:kept] + f"…\n\n(The agreement is {len(text):,} characters, more than a Teams card holds; "
        "read the whole text before signing.)")
    return [
        *_head(f"{title} · version {version}", None, errors),
        *text_blocks(shown),
        *_text(FormField.NAME, "Your full name, as on the roster", values, errors, required=True,
               message="Type your full name to sign."),
        {"type": "Input.Toggle", "id": FormField.AGREE, "label": "Agreement",
         "title": "I agree, on behalf of my company, to this agreement",
         "valueOn": "agree", "valueOff": "", "isRequired": True, "errorMessage": "Tick “I agree” to sign."},
        *_error(errors, FormField.AGREE),
        _buttons(state.model_copy(update={"form": Form.SIGN, "version": version}), "Sign"),
    ]


def claim_some_form(state: CardState, values: dict, errors: dict[str, str] | None = None) -> list[dict]:
    errors = errors or {}
    return [
        *_head("Claim units", state.about(), errors),
        *_number(FormField.UNITS, "How many units?", values, errors, required=True),
        _buttons(state.model_copy(update={"form": Form.CLAIM_SOME}), "Claim"),
    ]


def reject_form(state: CardState, values: dict, errors: dict[str, str] | None = None) -> list[dict]:
    errors = errors or {}
    return [
        *_head("Revoke a claim" if state.kind is ActionKind.REVOKE else "Reject or send back", state.about(), errors),
        *_text(FormField.WHY, "Why? (the tech sees this)", values, errors, required=True, multiline=True,
               max_length=1000, message="Say why, so the tech knows what to fix."),
        _buttons(state.model_copy(update={"form": Form.REJECT}), "Send"),
    ]


# -- invoke responses and size ----------------------------------------------------------------

def card_response(content: dict) -> dict:
    """The body of an `adaptiveCard/action` answer that replaces the card for the clicker."""
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": content}


def message_response(text: str) -> dict:
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": clip(text, 300)}


def size(content: dict) -> int:
    """A card's size as sent: JSON with every non-ASCII character escaped (as botbuilder sends it), which
    is at least its length in UTF-8 bytes and in UTF-16 code units (what Teams counts)."""
    return len(json.dumps(content))


def _bytes(text: str) -> int:
    return len(json.dumps(text))


def _prefix_within(text: str, limit: int) -> int:
    """The length of the longest start of `text` whose size as sent is at most `limit`."""
    if _bytes(text) <= limit:
        return len(text)
    low, high = 0, min(len(text), limit)
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if _bytes(text[:mid]) <= limit else (low, mid - 1)
    return low


def fit(content: dict, limit: int = MAX_CARD_BYTES) -> dict:
    """Shorten the longest texts until the card is under `limit` bytes; never touch buttons or their data."""
    total = size(content)
    if total <= limit:
        return content
    for holder, key in sorted(_texts(content), key=lambda hk: len(hk[0][hk[1]]), reverse=True):
        old = holder[key]
        if total <= limit or len(old) <= 200:
            break
        holder[key] = clip(old, max(200, _prefix_within(old, _bytes(old) - (total - limit) - 100)))
        total -= _bytes(old) - _bytes(holder[key])
    # Still too big (a great many short pieces): drop content from the end of the longest list of items,
    # keeping its first item, its inputs and its buttons.
    items = max(_item_lists(content), key=len, default=[])
    droppable = [k for k, item in enumerate(items) if not _kept(item)][1:]
    dropped: set[int] = set()
    while total > limit and droppable:
        k = droppable.pop()
        dropped.add(k)
        total -= size(items[k]) + 2
    if dropped:
        items[:] = [item for k, item in enumerate(items) if k not in dropped]
        items.insert(min(dropped), {"type": "TextBlock", "text": "…more in Surge", "wrap": True})
    return content


def _kept(item: dict) -> bool:
    return item.get("type") == "ActionSet" or str(item.get("type", "")).startswith("Input.")


def _item_lists(node):
    if isinstance(node, dict):
        for key in ("body", "items"):
            if isinstance(node.get(key), list):
                yield node[key]
        for child in node.values():
            yield from _item_lists(child)
    elif isinstance(node, list):
        for child in node:
            yield from _item_lists(child)


def _texts(node):
    """(dict, key) of every visible text: TextBlock text, fact values and titles, input values."""
    if isinstance(node, dict):
        for key in ("text", "value", "title"):
            if isinstance(node.get(key), str) and node.get("type") not in ("Action.Execute",):
                yield node, key
        for key, child in node.items():
            if key != "data":
                yield from _texts(child)
    elif isinstance(node, list):
        for child in node:
            yield from _texts(child)
