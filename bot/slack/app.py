"""The Bolt app: thin listeners that ack, hand the payload to the core, and render the reply.

Slash commands are answered in the ack itself (ephemeral) when the core is quick, otherwise acked at
once and answered through `response_url`. Buttons ack at once and answer through
`response_url`. Forms validate per field. Everything for other people goes through the outbox,
which the listener wakes after the core committed.
"""
from __future__ import annotations

import asyncio
import logging
import re

from pydantic import ValidationError
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.config import Settings
from bot.outbox import Outbox
from bot.slack import blocks
from bot.slack.door import SlackApp
from bot.slack.files import noting_the_dm, send_to_dm
from bot.slack.forms import fields_of, quoted, read_request_form, value_of
from bot.slack.ids import BlockId, CallbackId, FormState
from bot.slack.payloads import BUTTON, button_action
from bot.workers import in_core
from handlers.agreements import SignAgreement, agreement_document
from handlers.core import Surge
from handlers.editing import edit_from_fields, edit_values
from handlers.forms import reassign_from_fields
from handlers.home import home
from handlers.types import ActionKind, Form, Identity, Reply

log = logging.getLogger("surge.slack")

ACK_WITHIN = 2.0  # seconds the core may take before the answer goes through response_url instead
# Commands in flight beyond which a new one is acknowledged at once (its answer then goes through
# response_url): under a burst, the ack never waits in the queue for the core's worker threads.
ANSWER_IN_ACK_UP_TO = 4


def retry_handlers() -> list:
    """429s wait for Retry-After; 5xx and dropped connections retry; all without blocking the loop."""
    return [AsyncRateLimitErrorRetryHandler(max_retry_count=5), AsyncServerErrorRetryHandler(max_retry_count=3),
            AsyncConnectionErrorRetryHandler(max_retry_count=3)]


def web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client, with `retry_handlers()`. `surge serve` gives it a shared HTTP session."""
    return AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                          retry_handlers=retry_handlers())


def build_slack_app(settings: Settings, core: Surge, outbox: Outbox, client: AsyncWebClient) -> SlackApp:
    app = SlackApp(client=client, signing_secret=settings.slack_signing_secret, process_before_response=False)
    run = in_core

    def who(user_id: str) -> Identity:
        return Identity(platform="slack", user_id=user_id)

    async def open_form(trigger_id: str, kind: ActionKind | Form, identity: Identity, state: FormState,
                        prefill: dict[str, str], label: str = "") -> None:
        if kind in (ActionKind.POST_REQUEST, Form.REQUEST):
            view = blocks.request_modal(state, prefill)
        elif kind in (ActionKind.SIGN, Form.SIGN):
            doc = await run(core.view, identity, agreement_document)
            if doc is None:
                return
            view = blocks.sign_modal(state.model_copy(update={"version": doc.version}), doc.title, doc.version, doc.text)
        elif kind is ActionKind.CLAIM_SOME:
            view = blocks.claim_some_modal(state, label)
        elif kind is ActionKind.REVOKE:
            view = blocks.reject_modal(state, label, "Revoke a claim")
        elif kind is ActionKind.REASSIGN:
            view = blocks.reassign_modal(state, label)
        else:
            view = blocks.reject_modal(state, label)
        await client.views_open(trigger_id=trigger_id, view=view)

    async def respond(body: dict, **kwargs) -> None:
        """Answer through the interaction's `response_url`, on the client's HTTP session when the
        server gave it one (connections kept alive), with the Web API's retries for 429 and 5xx."""
        hook = AsyncWebhookClient(url=body["response_url"], session=client.session, retry_handlers=retry_handlers())
        sent = await hook.send(**kwargs)
        if sent.status_code >= 300:
            log.warning("response_url answered %s: %s", sent.status_code, sent.body[:200])

    async def answer(body: dict, reply: Reply) -> None:
        """The clicker's private answer: in place of nothing, visible to them only."""
        kwargs = {"text": blocks.fallback(reply.title, reply.text), "blocks": blocks.reply_blocks(reply)}
        if body.get("response_url"):
            await respond(body, response_type="ephemeral", replace_original=False, **kwargs)
        else:
            await client.chat_postMessage(channel=body["user"]["id"], **kwargs)

    in_flight = 0  # slash commands this process is working on

    @app.error
    async def on_error(error: Exception):
        """A listener that failed: logged by the error's type and traceback, never the request it read."""
        if isinstance(error, ValidationError):  # a shape the door did not check (e.g. over Socket Mode)
            log.warning("slack: a request could not be read (%s)", type(error).__name__)
            return BoltResponse(status=400, body="")
        log.error("slack: a listener failed: %s", type(error).__name__, exc_info=error)
        return None

    @app.command("/surge")
    async def on_command(ack, body, request):
        """Answered in the ack when the core is quick; when it is busy (more commands in flight than
        it has workers for) or slow, acknowledged at once and answered through `response_url`.

        A command's key is its signature: a replay of the same signed request (Bolt accepts one for
        five minutes) gets the first answer again and changes nothing. Over Socket Mode nothing is
        signed, and nothing can be replayed from outside."""
        nonlocal in_flight
        identity = who(body["user_id"])
        signature = (request.headers.get("x-slack-signature") or [""])[0].removeprefix("v0=")
        key = f"slack:command:{signature}" if signature else None
        acked = in_flight >= ANSWER_IN_ACK_UP_TO
        if acked:
            await ack()
        in_flight += 1
        try:
            work = asyncio.ensure_future(run(core.handle_text, identity, body.get("text") or "", key=key))
            if not acked:
                done, _ = await asyncio.wait({work}, timeout=ACK_WITHIN)
                if not done:  # Slack gives up at 3 s: acknowledge now, answer when the core is done
                    await ack()
                    acked = True
            reply = noting_the_dm(await work)
        finally:
            in_flight -= 1
        if reply.form:
            if not acked:
                await ack()
            state = FormState(channel_id=body.get("channel_id"), edit=reply.edits)
            try:
                await open_form(body["trigger_id"], reply.form, identity, state, reply.prefill)
            except SlackApiError as exc:  # e.g. the trigger expired (3 s) while the core was busy
                log.warning("form not opened: %s", exc.response.get("error"))
                await respond(body, response_type="ephemeral", text="The form could not open in time. "
                              "Run the command again, or give its values inline (`help request`).")
        elif acked:
            await respond(body, response_type="ephemeral", text=blocks.fallback(reply.title, reply.text),
                          blocks=blocks.reply_blocks(reply))
        else:
            await ack(response_type="ephemeral", text=blocks.fallback(reply.title, reply.text),
                      blocks=blocks.reply_blocks(reply))
        if reply.file and (failed := await send_to_dm(client, body["user_id"], reply.file)):
            await respond(body, response_type="ephemeral", text=f"{reply.file.name} could not be sent ({failed}).")
        outbox.wake()

    @app.action(BUTTON)
    async def on_button(ack, body, action):
        await ack()
        identity = who(body["user"]["id"])
        clicked = button_action(action["value"])
        channel = (body.get("channel") or {}).get("id")
        if clicked.kind in blocks.FORM_KINDS:
            state = FormState(channel_id=channel, command=clicked.command, then=clicked.then)
            label = f"`{clicked.command}`"
            await open_form(body["trigger_id"], clicked.kind, identity, state, clicked.prefill, label)
            return
        key = f"slack:action:{body['user']['id']}:{action.get('action_ts')}"
        reply = await run(core.handle_action, identity, clicked, key=key)
        if reply.form:
            state = FormState(channel_id=channel, then=clicked.then, edit=reply.edits)
            await open_form(body["trigger_id"], reply.form, identity, state, reply.prefill)
        else:
            await answer(body, reply)
        outbox.wake()
        if body.get("view", {}).get("type") == "home":
            await publish_home(body["user"]["id"])

    @app.view(CallbackId.REQUEST_FORM)
    async def on_request_form(ack, body, view):
        """A new request, or (the form opened by `edit SR-n`) the fields of SR-n that were changed."""
        state = FormState.model_validate_json(view.get("private_metadata") or "{}")
        identity = who(body["user"]["id"])
        if state.edit is not None:
            before = await run(core.view, identity, lambda ctx: edit_values(ctx, state.edit))
            cmd, errors = edit_from_fields(state.edit, fields_of(view["state"]["values"]), before)
        else:
            cmd, errors = read_request_form(view["state"]["values"])
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        reply = await run(core.handle, identity, cmd, key=f"slack:view:{view['id']}")
        if not reply.ok:
            await ack(response_action="errors", errors={BlockId.TITLE: blocks.clip(reply.text, 200)})
            return
        await ack()
        await after_form(body, view, reply)

    @app.view(CallbackId.SIGN_FORM)
    async def on_sign_form(ack, body, view):
        values = view["state"]["values"]
        if value_of(values, BlockId.AGREE) != "agree":
            await ack(response_action="errors", errors={BlockId.AGREE: "Tick “I agree” to sign."})
            return
        state = FormState.model_validate_json(view.get("private_metadata") or "{}")
        identity = who(body["user"]["id"])
        reply = await run(core.handle, identity, SignAgreement(name=value_of(values, BlockId.NAME) or ""),
                          key=f"slack:view:{view['id']}")
        if not reply.ok:
            await ack(response_action="errors", errors={BlockId.NAME: blocks.clip(reply.text.split("\n")[0], 200)})
            return
        await ack()
        if state.then:
            after = await run(core.handle_text, identity, state.then, key=f"slack:view:{view['id']}:then")
            reply = after.model_copy(update={"text": f"{reply.text}\n\n{after.text}"})
        await after_form(body, view, reply)

    @app.view(CallbackId.CLAIM_SOME_FORM)
    async def on_claim_some(ack, body, view):
        await command_form(ack, body, view, BlockId.UNITS, lambda v: v)

    @app.view(CallbackId.REJECT_FORM)
    async def on_reject_form(ack, body, view):
        await command_form(ack, body, view, BlockId.WHY, quoted)

    @app.view(CallbackId.REASSIGN_FORM)
    async def on_reassign_form(ack, body, view):
        words, errors = reassign_from_fields(fields_of(view["state"]["values"]))
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await command_form(ack, body, view, BlockId.TO, lambda _: words)

    async def command_form(ack, body, view, block: BlockId, as_word) -> None:
        """A form that completes a button's command with one more word (units, a reason)."""
        state = FormState.model_validate_json(view.get("private_metadata") or "{}")
        value = value_of(view["state"]["values"], block) or ""
        reply = await run(core.handle_text, who(body["user"]["id"]), f"{state.command} {as_word(value)}",
                          key=f"slack:view:{view['id']}")
        if not reply.ok:
            await ack(response_action="errors", errors={block: blocks.clip(reply.text.split("\n")[0], 200)})
            return
        await ack()
        await after_form(body, view, reply)

    async def after_form(body: dict, view: dict, reply: Reply) -> None:
        state = FormState.model_validate_json(view.get("private_metadata") or "{}")
        user = body["user"]["id"]
        kwargs = {"text": blocks.fallback(reply.title, reply.text), "blocks": blocks.reply_blocks(reply)}
        if state.channel_id and not state.channel_id.startswith("D"):
            await client.chat_postEphemeral(channel=state.channel_id, user=user, **kwargs)
        else:
            await client.chat_postMessage(channel=user, **kwargs)
        outbox.wake()

    async def publish_home(user_id: str) -> None:
        reply = await run(core.view, who(user_id), home)
        await client.views_publish(user_id=user_id, view=blocks.home_view(reply))

    @app.event("app_home_opened")
    async def on_home(event, body):
        if event.get("tab", "home") == "home" and await run(core.first_time, f"slack:event:{body.get('event_id')}"):
            await publish_home(event["user"])

    @app.event("message")
    async def on_direct_message(event, body, say):
        """A command typed in the app's Messages tab, without `/surge`."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        if not await run(core.first_time, f"slack:event:{body.get('event_id')}"):
            return  # Slack re-delivered an event we already answered
        reply = noting_the_dm(await run(core.handle_text, who(event["user"]), event.get("text") or ""))
        await say(text=blocks.fallback(reply.title, reply.text), blocks=blocks.reply_blocks(reply))
        if reply.file and (failed := await send_to_dm(client, event["user"], reply.file)):
            await say(text=f"{reply.file.name} could not be sent ({failed}).")
        outbox.wake()

    @app.event("app_mention")
    async def on_mention(event, body, client):
        """`@Surge claim SR-7` in a channel: the answer goes to the speaker only."""
        if not await run(core.first_time, f"slack:event:{body.get('event_id')}"):
            return
        text = re.sub(r"^\s*<@[A-Z0-9]+>\s*", "", event.get("text") or "")
        reply = await run(core.handle_text, who(event["user"]), text)
        await client.chat_postEphemeral(channel=event["channel"], user=event["user"],
                                        text=blocks.fallback(reply.title, reply.text), blocks=blocks.reply_blocks(reply))
        outbox.wake()

    return app

