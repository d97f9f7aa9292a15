"""The Teams way out for the outbox: channel posts, in-place card updates and DMs, through stored
conversation references (`continue_conversation`) or a new one-to-one chat (`create_conversation`).

At most ~7 sends a second per conversation (Teams' limit per bot); 429 and 5xx are retried with
backoff; anything still failing raises, so the outbox retries the row later.
"""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from botbuilder.core import TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationParameters,
)

from bot.pacing import Paced, Pacer
from bot.teams import cards, references
from bot.teams.connector import BASE_DELAY, one_policy, with_retries
from bot.workers import in_background
from handlers.types import Chart, Message
from models.db import Database
from models.tables import Person, Platform

PER_CONVERSATION_INTERVAL = 1 / 7


class NotReachable(RuntimeError):
    """Teams gave the bot no way into this conversation yet."""


def card_activity(content: dict, summary: str, *, activity_id: str | None = None) -> Activity:
    return Activity(type=ActivityTypes.message, id=activity_id, summary=summary,
                    attachments=[Attachment(content_type=cards.CARD_CONTENT_TYPE, content=content)])


async def chart_png(chart: Chart | None) -> bytes | None:
    """A chart drawn as a PNG (off the event loop: matplotlib takes a moment), or None without one."""
    if chart is None:
        return None
    from bot.charts import png  # matplotlib loads only when a chart is drawn

    return await asyncio.to_thread(png, chart)


async def message_activity(message: Message, *, activity_id: str | None = None) -> Activity:
    """A message as an Adaptive Card activity, with its chart drawn into the card."""
    content = cards.message_card(message, chart_png=await chart_png(message.chart))
    return card_activity(content, cards.fallback(message.title, message.text), activity_id=activity_id)


class TeamsNotifier(Paced):
    platform = Platform.TEAMS

    def __init__(self, adapter, db: Database, *, app_id: str = "", interval: float = PER_CONVERSATION_INTERVAL,
                 retry_base: float = BASE_DELAY):
        self.adapter = adapter
        self.db = db
        self.app_id = app_id
        self.pacer = Pacer(interval)
        self.retry_base = retry_base  # first backoff step, seconds; doubles per attempt

    async def _in(self, row, work: Callable[[TurnContext], Awaitable]):
        """Run `work` in a turn on a stored conversation; its errors reach the caller."""
        await self.pacer.wait(row.conversation_id)
        turn = _Turn(work)
        await self.adapter.continue_conversation(references.as_reference(row), turn, bot_app_id=self.app_id)
        return turn.result()

    async def _send(self, row, message: Message) -> str:
        activity = await message_activity(message)

        async def work(tc: TurnContext) -> str:
            response = await with_retries(lambda: tc.send_activity(activity), what="send", base=self.retry_base)
            return response.id if response else ""

        return await self._in(row, work)

    # -- the Notifier protocol ----------------------------------------------------------------

    async def post(self, channel_id: str, message: Message, *, marker=None, check: bool = False) -> str:
        """Teams keeps no history a bot can read: `marker` and `check` are not used, and the outbox
        records each send's activity id as soon as it returns."""
        row = await in_background(references.for_channel, self.db, channel_id)
        if row is None:
            raise NotReachable(f"Teams channel {channel_id} has never spoken to Surge, so Surge can't post there yet: "
                               "add the Surge app to its team and @mention Surge in the channel once")
        return await self._send(row, message)

    async def update(self, channel_id: str, message_ref: str, message: Message) -> None:
        row = await in_background(references.for_channel, self.db, channel_id)
        if row is None:
            raise NotReachable(f"no conversation reference for Teams channel {channel_id}")
        activity = await message_activity(message, activity_id=message_ref)

        async def work(tc: TurnContext) -> None:
            await with_retries(lambda: tc.update_activity(activity), what="update", base=self.retry_base)

        await self._in(row, work)

    async def direct(self, person: Person, message: Message, *, marker=None, check: bool = False) -> str | None:
        row = await in_background(references.for_person, self.db, person)
        if row is not None:
            return await self._send(row, message)
        return await self.open_chat(person, message)

    def reaches(self, person: Person) -> bool:
        return bool(person.teams_id)

    # -- a first DM -----------------------------------------------------------------------------

    async def open_chat(self, person: Person, message: Message) -> str | None:
        """Open a one-to-one chat with someone who never wrote to the bot, and remember it."""
        base = await in_background(references.any_address, self.db)
        if base is None:
            raise NotReachable(f"Surge has no Teams address yet to open a chat with {person.name}: "
                               "install the app in Teams (or message it) first")
        ref = references.as_reference(base)
        params = ConversationParameters(
            is_group=False, bot=ChannelAccount(id=ref.bot.id if ref.bot else None),
            members=[ChannelAccount(id=person.teams_id)], tenant_id=base.tenant_id,
            channel_data={"tenant": {"id": base.tenant_id}})
        activity = await message_activity(message)

        async def first(tc: TurnContext) -> str | None:
            seen = references.seen_in(tc.activity)
            if seen is not None:
                seen = dataclasses.replace(seen, kind="personal", user_id=person.teams_id)
                await in_background(references.remember, self.db, seen)
            await self.pacer.wait(tc.activity.conversation.id)
            sent = await with_retries(lambda: tc.send_activity(activity), what="first DM", base=self.retry_base)
            return sent.id if sent else None

        turn = _Turn(first)
        await with_retries(lambda: self.adapter.create_conversation(
            self.app_id, turn, params, channel_id=ref.channel_id or "msteams", service_url=base.service_url),
            what="create conversation", base=self.retry_base)
        return turn.result()


class _Turn:
    """A proactive turn's callback: botbuilder runs it inside its own pipeline, which would hand an
    error to `on_turn_error`; what `work` returns or raises is kept and given to the caller instead."""

    def __init__(self, work: Callable[[TurnContext], Awaitable]):
        self.work = work
        self.value = None
        self.error: Exception | None = None

    async def __call__(self, turn_context: TurnContext) -> None:
        one_policy(turn_context)
        turn_context.activity.id = None  # a new message, not a reply to the continuation event
        try:
            self.value = await self.work(turn_context)
        except Exception as exc:  # noqa: BLE001 - re-raised by result(), outside the adapter's pipeline
            self.error = exc

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value
