"""Events: a command typed in the app's Messages tab, an @mention in a channel (the App Home tab is
`listeners.home`).
Slack re-delivers an event it thinks was missed: each is answered once (its event id)."""
from __future__ import annotations

import re

from bot.slack import blocks
from bot.slack.door import SlackApp
from bot.slack.files import noting_the_dm, send_to_dm
from bot.slack.listeners.deps import Deps

_MENTION = re.compile(r"^\s*<@[A-Z0-9]+>\s*")


def register(app: SlackApp, deps: Deps) -> None:
    core = deps.core

    async def first_time(body: dict) -> bool:
        return await deps.run(core.first_time, f"slack:event:{body.get('event_id')}")

    @app.event("message")
    async def on_direct_message(event, body, say) -> None:
        """A command typed in the app's Messages tab, without `/surge`."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        if not await first_time(body):
            return
        reply = noting_the_dm(await deps.run(core.handle_text, deps.who(event["user"]), event.get("text") or ""))
        await say(text=blocks.fallback(reply.title, reply.text), blocks=blocks.reply_blocks(reply))
        if reply.file and (failed := await send_to_dm(deps.client, event["user"], reply.file)):
            await say(text=f"{reply.file.name} could not be sent ({failed}).")
        deps.outbox.wake()

    @app.event("app_mention")
    async def on_mention(event, body) -> None:
        """`@Surge claim SR-7` in a channel: the answer goes to the speaker only."""
        if not await first_time(body):
            return
        text = _MENTION.sub("", event.get("text") or "")
        reply = await deps.run(core.handle_text, deps.who(event["user"]), text)
        await deps.client.chat_postEphemeral(channel=event["channel"], user=event["user"],
                                             text=blocks.fallback(reply.title, reply.text),
                                             blocks=blocks.reply_blocks(reply))
        deps.outbox.wake()
