"""`/surge …`: acknowledged at once, answered through `response_url` once the core is done.

The ack never waits on the core: the listener acks before it calls the core, and Bolt (with
`process_before_response=False`) sends the 200 at the ack while the listener goes on. So a burst of
commands or a slow database can never make Slack give up at 3 s. (Bolt's lazy listeners would do the
same, but they deep-copy the request's context, which holds the client's shared HTTP session.) A command's key is its signature: a replay of
the same signed request (Bolt accepts one for five minutes) gets the first answer again and changes
nothing. Over Socket Mode nothing is signed, and nothing can be replayed from outside.
"""
from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.door import SlackApp
from bot.slack.files import noting_the_dm, send_to_dm
from bot.slack.ids import FormState
from bot.slack.listeners.deps import Deps
from handlers.types import Reply

log = logging.getLogger("surge.slack")
FORM_LATE = "The form could not open in time. Run the command again, or give its values inline (`help request`)."


def key_of(request) -> str | None:
    signature = (request.headers.get("x-slack-signature") or [""])[0].removeprefix("v0=")
    return f"slack:command:{signature}" if signature else None


def answered(core, identity, text: str, key: str | None) -> tuple[Reply, dict]:
    """The reply and its Block Kit, both made on the core's thread: rendering a long card costs
    milliseconds that would otherwise hold up the event loop, and with it every other ack."""
    reply = noting_the_dm(core.handle_text(identity, text, key=key))
    if reply.form:
        return reply, {}
    return reply, {"text": blocks.fallback(reply.title, reply.text), "blocks": blocks.reply_blocks(reply)}


def register(app: SlackApp, deps: Deps) -> None:
    @app.command("/surge")
    async def on_command(ack, body, request) -> None:
        await ack()
        identity = deps.who(body["user_id"])
        reply, rendered = await deps.run(answered, deps.core, identity, body.get("text") or "", key_of(request))
        if reply.form:
            state = FormState(channel_id=body.get("channel_id"), edit=reply.edits)
            try:
                await deps.open_form(body["trigger_id"], reply.form, identity, state, reply.prefill)
            except SlackApiError as exc:  # e.g. the trigger expired (3 s) while the core was busy
                log.warning("form not opened: %s", exc.response.get("error"))
                await deps.respond(body, response_type="ephemeral", text=FORM_LATE)
        else:
            await deps.respond(body, response_type="ephemeral", **rendered)
        if reply.file and (failed := await send_to_dm(deps.client, body["user_id"], reply.file)):
            await deps.respond(body, response_type="ephemeral", text=f"{reply.file.name} could not be sent ({failed}).")
        deps.outbox.wake()
