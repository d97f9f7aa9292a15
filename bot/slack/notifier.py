"""The Slack way out for the outbox: posts, in-place updates and DMs, at most ~1 message per
second per channel (Slack's limit); 429s and 5xx are retried by the client's retry handlers."""
from __future__ import annotations

import asyncio
import time

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks
from handlers.types import Message
from models.tables import Person

PER_CHANNEL_INTERVAL = 1.0


class SlackNotifier:
    platform = "slack"

    def __init__(self, client: AsyncWebClient, *, interval: float = PER_CHANNEL_INTERVAL):
        self.client = client
        self.interval = interval
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _pace(self, channel: str) -> None:
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            wait = self._next.get(channel, 0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next[channel] = time.monotonic() + self.interval

    async def post(self, channel_id: str, message: Message) -> str:
        await self._pace(channel_id)
        resp = await self.client.chat_postMessage(
            channel=channel_id, text=blocks.fallback(message.title, message.text), blocks=blocks.message_blocks(message))
        if message.chart:
            await self._chart(channel_id, message)
        return resp["ts"]

    async def update(self, channel_id: str, message_ref: str, message: Message) -> None:
        await self._pace(channel_id)
        await self.client.chat_update(channel=channel_id, ts=message_ref, text=blocks.fallback(message.title, message.text),
                                      blocks=blocks.message_blocks(message))

    async def direct(self, person: Person, message: Message) -> None:
        await self._pace(person.slack_id)
        await self.client.chat_postMessage(channel=person.slack_id, text=blocks.fallback(message.title, message.text),
                                           blocks=blocks.message_blocks(message))
        if message.chart:
            opened = await self.client.conversations_open(users=person.slack_id)
            await self._chart(opened["channel"]["id"], message)

    async def _chart(self, channel_id: str, message: Message) -> None:
        """The message's picture, uploaded as a PNG into the same conversation."""
        from bot.charts import png

        data = await asyncio.to_thread(png, message.chart)
        await self.client.files_upload_v2(channel=channel_id, content=data, filename="surge-chart.png",
                                          title=message.chart.title)

    def reaches(self, person: Person) -> bool:
        return bool(person.slack_id)
