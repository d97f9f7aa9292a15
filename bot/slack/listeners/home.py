"""The App Home tab: when someone opens it, Surge publishes their `mine` (`handlers.home.home`) as
their home view, rendered by `bot/slack/blocks.py` (at most 100 blocks). Slack re-delivers an event
it thinks was missed: each opening is answered once (its event id)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.slack import blocks
from handlers.home import home

if TYPE_CHECKING:
    from bot.slack.door import SlackApp
    from bot.slack.listeners.deps import Deps


async def publish(deps: Deps, user_id: str) -> None:
    """Render the person's home page afresh and publish it (after a button clicked on it, too)."""
    reply = await deps.run(deps.core.view, deps.who(user_id), home)
    await deps.client.views_publish(user_id=user_id, view=blocks.home_view(reply))


def register(app: SlackApp, deps: Deps) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event, body) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab: commands typed there are the `message` listener's
        if await deps.run(deps.core.first_time, f"slack:event:{body.get('event_id')}"):
            await publish(deps, event["user"])
