"""The Teams bot: a thin `TeamsActivityHandler` on botbuilder's `CloudAdapter`.

A turn (read and authenticated at the door, `door.py`) has its conversation reference stored if its
sender is on the roster, then is de-duplicated by its id (Teams re-delivers what took longer than
15 s), then handed to the core; the answer goes back as a reply (or, when the core says it must go to
the sender alone, to the sender's one-to-one chat), and the outbox is woken for everyone else.
"""
from __future__ import annotations

import hashlib
import html
import logging
import re
from collections.abc import Callable

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Mention
from msrest.serialization import Model
from sqlmodel import select

from bot.config import Settings
from bot.teams import cards, references
from bot.teams.actions import CardActions
from bot.teams.auth import authentication
from bot.teams.connector import one_policy, patch_msrest, with_retries
from bot.teams.door import TRUSTED, TeamsEndpoint
from bot.teams.ids import CardState, Origin
from bot.teams.notifier import TeamsNotifier, card_activity, chart_png
from bot.workers import in_core
from handlers.core import Surge
from handlers.privacy import goes_to_sender_alone
from handlers.types import Audience, Identity, Message, Reply
from models.db import Database
from models.tables import Person

log = logging.getLogger("surge.teams")
_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
WELCOME_PERSONAL = ("Hi, I'm Surge: I hand surplus field work to trusted partner MSPs. Type `help` to see what "
                    "you can do, or `list` for the open requests.")
WELCOME_GROUP = ("Surge is here. @mention Surge with a command (`@Surge help`) to see what you can do; answers that "
                 "name a customer come to you one to one.")
WELCOME_CHANNEL = ("Surge is here. Surge requests for this channel appear as cards you can claim from; "
                   "@mention Surge with a command (`@Surge help`), or chat with it one to one.")


class _Answer(Model):
    """An `adaptiveCard/action` answer: a card or a message (botbuilder's class only takes a dict value)."""

    _attribute_map = {"status_code": {"key": "statusCode", "type": "int"}, "type": {"key": "type", "type": "str"},
                      "value": {"key": "value", "type": "object"}}

    def __init__(self, status_code: int, type: str, value) -> None:  # noqa: A002 - the wire name
        super().__init__()
        self.status_code, self.type, self.value = status_code, type, value


def command_text(activity) -> str:
    """The typed command: the bot's mention removed, other mentions as Teams ids, markup gone."""
    text = activity.text or ""
    bot_id = activity.recipient.id if activity.recipient else None
    for entity in activity.entities or []:
        if (getattr(entity, "type", "") or "").lower() != "mention":
            continue
        raw = {"type": entity.type, **(getattr(entity, "additional_properties", None) or {})}
        mention = entity if isinstance(entity, Mention) else Mention().deserialize(raw)
        if not mention.text or not mention.mentioned or not mention.mentioned.id:
            continue
        who = " " if mention.mentioned.id == bot_id else f" {mention.mentioned.id} "
        text = text.replace(mention.text, who, 1)
    text = _TAG.sub(" ", _AT.sub(r"\1", text))
    return " ".join(html.unescape(text).replace("\xa0", " ").split())


def delivery_key(activity) -> str:
    conv = activity.conversation.id if activity.conversation else ""
    digest = hashlib.sha1(references.base_conversation_id(conv).encode()).hexdigest()[:16]
    return f"teams:{digest}:{activity.id}"[:200]


class SurgeTeamsBot(TeamsActivityHandler):
    def __init__(self, core: Surge, notifier: TeamsNotifier, wake):
        self.core, self.notifier, self.wake = core, notifier, wake
        self.actions = CardActions(core)

    async def on_turn(self, turn_context: TurnContext):
        one_policy(turn_context)
        seen = references.seen_in(turn_context.activity)
        if seen is not None and turn_context.turn_state.get(TRUSTED):
            await in_core(references.remember_heard, self.core.db, seen)
        await super().on_turn(turn_context)
        self.wake()

    async def on_message_activity(self, turn_context: TurnContext):
        activity = turn_context.activity
        if not await in_core(self.core.first_time, delivery_key(activity)):
            return  # a re-delivery of something already answered
        identity = Identity(platform="teams", user_id=activity.from_property.id)
        log.info("teams: message from %s (%s)", identity.user_id, activity.from_property.name)
        reply = await in_core(self.core.handle_text, identity, command_text(activity))
        if reply.file:  # a file in a personal chat needs a consent card flow: point to where it can be had
            reply = reply.model_copy(update={"text": "Teams can't receive files from Surge here: use "
                                             f"`{reply.file.command or 'surge'}` or Slack.", "file": None})
        if reply.form:
            state = CardState(origin=Origin.REPLY, prefill=reply.prefill, edit=reply.edits)
            items = await self.actions.form_items(identity, reply.form, state, dict(reply.prefill))
            content = cards.card(items) if items else cards.reply_card(reply)
        else:
            content = cards.reply_card(reply, chart_png=await chart_png(reply.chart))
        if await in_core(self._private_here, activity, reply):
            await self._answer_privately(turn_context, identity, reply)
            return
        await self._reply(turn_context, content, cards.fallback(reply.title, reply.text))

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """`adaptiveCard/action` here; botbuilder's own path serialises the answer twice and fails."""
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        action = (activity.value or {}).get("action") if isinstance(activity.value, dict) else None
        if not isinstance(action, dict) or action.get("type") != "Action.Execute":
            return InvokeResponse(status=400, body=_Answer(400, "application/vnd.microsoft.error",
                                                           {"code": "BadRequest", "message": "not an Action.Execute"}))
        identity = Identity(platform="teams", user_id=activity.from_property.id)
        body = await self.actions.handle(turn_context, identity, action, delivery_key(activity))
        return InvokeResponse(status=200, body=_Answer(body["statusCode"], body["type"], body["value"]))

    async def on_teams_members_added_dispatch(self, members_added, team_info, turn_context: TurnContext):
        """The app was installed (the bot is among the added members): say hello, once."""
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if not any(m.id == bot_id for m in members_added or []):
            return
        if not await in_core(self.core.first_time, delivery_key(activity)):
            return
        kind = activity.conversation.conversation_type or "personal"
        welcome = {"personal": WELCOME_PERSONAL, "groupChat": WELCOME_GROUP}.get(kind, WELCOME_CHANNEL)
        reply = Reply(title="Surge", text=welcome)
        await self._reply(turn_context, cards.reply_card(reply), reply.text)

    # -- answering ------------------------------------------------------------------------------

    async def _reply(self, turn_context: TurnContext, content: dict, summary: str) -> None:
        activity = card_activity(content, summary)
        await with_retries(lambda: turn_context.send_activity(activity), what="reply")

    def _private_here(self, activity, reply: Reply) -> bool:
        seen = references.seen_in(activity)
        return self.core.db.read(lambda s: goes_to_sender_alone(
            s, private=reply.private, platform="teams", one_to_one=seen is not None and seen.kind == "personal",
            channel_id=seen.channel_id if seen is not None else None))

    async def _answer_privately(self, turn_context: TurnContext, identity: Identity, reply: Reply) -> None:
        person = await in_core(self.core.db.run, lambda s: s.exec(
            select(Person).where(Person.teams_id == identity.user_id)).first())
        if person is None:
            return
        await self.notifier.direct(person, Message(
            audience=Audience.DM, person_id=person.id, private=True, title=reply.title, text=reply.text,
            fields=reply.fields, actions=reply.actions, tone=reply.tone))
        note = Reply(text="That answer names the customer, so I sent it to you in our one-to-one chat.")
        await self._reply(turn_context, cards.reply_card(note), note.text)


async def _on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    log.error("teams: turn failed for %s activity %s", turn_context.activity.type, turn_context.activity.id,
              exc_info=error)


def teams_notifier(cfg: Settings, db: Database) -> TeamsNotifier:
    """The Teams way out for the outbox, on the Bot Framework adapter the endpoint also takes turns on."""
    adapter = CloudAdapter(authentication(cfg))
    adapter.on_turn_error = _on_turn_error
    return TeamsNotifier(adapter, db, app_id=cfg.microsoft_app_id)


def build_teams(cfg: Settings, core: Surge, notifier: TeamsNotifier, wake: Callable[[], None]) -> TeamsEndpoint:
    """The endpoint, built after the outbox it wakes (`wake`) and the notifier that outbox sends through.
    msrest is checked and patched here, once, before any turn builds a connector client."""
    patch_msrest()
    return TeamsEndpoint(adapter=notifier.adapter, bot=SurgeTeamsBot(core, notifier, wake), notifier=notifier,
                         emulator=cfg.teams_emulator)
