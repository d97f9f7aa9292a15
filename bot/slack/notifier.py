"""The Slack way out for the outbox: posts, in-place updates and DMs, at most ~1 message per
second per channel (Slack's limit); 429s and 5xx are retried by the client's retry handlers.

Every post carries message metadata (`surge_outbox`: outbox id, request id). `chat.postMessage`
has no idempotency key, so when the outbox says a post may already have landed (`check`), the
channel's recent history is read (`include_all_metadata`) and a post with that metadata is adopted.
"""
from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.notifier import EVENT_TYPE, Marker
from bot.pacing import Paced, Pacer
from bot.slack import blocks
from handlers.types import Message
from models.tables import Person, Platform

log = logging.getLogger("surge.slack.notifier")

PER_CHANNEL_INTERVAL = 1.0
HISTORY_LIMIT = 50  # how far back a retry looks for its own earlier post


class SlackNotifier(Paced):
    platform = Platform.SLACK

    def __init__(self, client: AsyncWebClient, *, interval: float = PER_CHANNEL_INTERVAL):
        self.client = client
        self.pacer = Pacer(interval)

    async def _pace(self, channel: str) -> None:
        await self.pacer.wait(channel)

    async def post(self, channel_id: str, message: Message, *, marker: Marker | None = None,
                   check: bool = False) -> str:
        if check and marker is not None and (ts := await self.find(channel_id, marker)):
            return ts
        await self._pace(channel_id)
        resp = await self.client.chat_postMessage(
            channel=channel_id, text=blocks.fallback(message.title, message.text), blocks=blocks.message_blocks(message),
            metadata=_metadata(marker))
        if message.chart:
            await self._chart(channel_id, message)
        return resp["ts"]

    async def find(self, channel_id: str, marker: Marker) -> str | None:
        """The ts of a recent message in the channel carrying this marker, if there is one."""
        try:
            resp = await self.client.conversations_history(channel=channel_id, limit=HISTORY_LIMIT,
                                                           include_all_metadata=True)
        except SlackApiError as exc:  # e.g. no history scope: post again rather than never
            log.warning("can't read %s's history to look for an earlier post: %s", channel_id, exc.response.get("error"))
            return None
        for msg in resp.get("messages") or []:
            meta = msg.get("metadata") or {}
            if meta.get("event_type") == EVENT_TYPE and marker.matches(meta.get("event_payload") or {}):
                return msg.get("ts")
        return None

    async def update(self, channel_id: str, message_ref: str, message: Message) -> None:
        await self._pace(channel_id)
        await self.client.chat_update(channel=channel_id, ts=message_ref, text=blocks.fallback(message.title, message.text),
                                      blocks=blocks.message_blocks(message))

    async def direct(self, person: Person, message: Message, *, marker: Marker | None = None,
                     check: bool = False) -> str:
        if check and marker is not None:
            opened = await self.client.conversations_open(users=person.slack_id)
            if ts := await self.find(opened["channel"]["id"], marker):
                return ts
        await self._pace(person.slack_id)
        resp = await self.client.chat_postMessage(
            channel=person.slack_id, text=blocks.fallback(message.title, message.text),
            blocks=blocks.message_blocks(message), metadata=_metadata(marker))
        if message.chart:
            opened = await self.client.conversations_open(users=person.slack_id)
            await self._chart(opened["channel"]["id"], message)
        return resp["ts"]

    async def _chart(self, channel_id: str, message: Message) -> None:
        """The message's picture, uploaded as a PNG into the same conversation."""
        from bot.charts import png

        data = await asyncio.to_thread(png, message.chart)
        await self.client.files_upload_v2(channel=channel_id, content=data, filename="surge-chart.png",
                                          title=message.chart.title)

    def reaches(self, person: Person) -> bool:
        return bool(person.slack_id)


def _metadata(marker: Marker | None) -> dict | None:
    return {"event_type": EVENT_TYPE, "event_payload": marker.payload()} if marker is not None else None
