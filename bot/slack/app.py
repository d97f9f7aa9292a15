"""The Bolt app: construction, the error handler, and one `register` call per listener family
(`bot.slack.listeners`). The listeners ack, hand the payload to the core, and render the reply;
everything for other people goes through the outbox, which a listener wakes after the core committed.
"""
from __future__ import annotations

import logging

from pydantic import ValidationError
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.outbox import Outbox
from bot.slack.door import SlackApp
from bot.slack.listeners import register_all
from bot.slack.listeners.deps import Deps
from bot.slack.retries import retry_handlers, web_client
from handlers.core import Surge

__all__ = ["build_slack_app", "retry_handlers", "web_client"]
log = logging.getLogger("surge.slack")


async def on_error(error: Exception):
    """A listener that failed: logged by the error's type and traceback, never the request it read."""
    if isinstance(error, ValidationError):  # a shape the door did not check (e.g. over Socket Mode)
        log.warning("slack: a request could not be read (%s)", type(error).__name__)
        return BoltResponse(status=400, body="")
    log.error("slack: a listener failed: %s", type(error).__name__, exc_info=error)
    return None


def build_slack_app(settings: Settings, core: Surge, outbox: Outbox, client: AsyncWebClient) -> SlackApp:
    app = SlackApp(client=client, signing_secret=settings.slack_signing_secret, process_before_response=False)
    app.error(on_error)
    register_all(app, Deps(core=core, outbox=outbox, client=client))
    return app
