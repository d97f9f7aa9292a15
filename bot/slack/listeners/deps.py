"""What every listener needs: the core, the outbox, the Web API client, and the few ways of answering
(the sender privately, after a form, opening a form)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.outbox import Outbox
from bot.slack import blocks
from bot.slack.ids import FormState
from bot.slack.retries import retry_handlers
from bot.workers import in_core
from handlers.agreements import agreement_document
from handlers.core import Surge
from handlers.types import ActionKind, Form, Identity, Reply

log = logging.getLogger("surge.slack")


def first_line(text: str) -> str:
    return text.split("\n", 1)[0]


@dataclass
class Deps:
    core: Surge
    outbox: Outbox
    client: AsyncWebClient

    @staticmethod
    def who(user_id: str) -> Identity:
        return Identity(platform="slack", user_id=user_id)

    async def run(self, fn, *args, **kwargs):
        """A call into the core, on its worker threads (never on the event loop)."""
        return await in_core(fn, *args, **kwargs)

    async def respond(self, body: dict, **kwargs) -> None:
        """Answer through the interaction's `response_url`, on the client's HTTP session when the
        server gave it one (connections kept alive), with the Web API's retries for 429 and 5xx."""
        hook = AsyncWebhookClient(url=body["response_url"], session=self.client.session,
                                  retry_handlers=retry_handlers())
        sent = await hook.send(**kwargs)
        if sent.status_code >= 300:
            log.warning("response_url answered %s: %s", sent.status_code, sent.body[:200])

    async def answer(self, body: dict, reply: Reply) -> None:
        """The sender's private answer: through `response_url` when there is one, else in their DM."""
        kwargs = {"text": blocks.fallback(reply.title, reply.text), "blocks": blocks.reply_blocks(reply)}
        if body.get("response_url"):
            await self.respond(body, response_type="ephemeral", replace_original=False, **kwargs)
        else:
            await self.client.chat_postMessage(channel=body["user"]["id"], **kwargs)

    async def after_form(self, user: str, state: FormState, reply: Reply) -> None:
        """A submitted form's outcome: to the sender alone, where the form was opened (or their DM)."""
        kwargs = {"text": blocks.fallback(reply.title, reply.text), "blocks": blocks.reply_blocks(reply)}
        if state.channel_id and not state.channel_id.startswith("D"):
            await self.client.chat_postEphemeral(channel=state.channel_id, user=user, **kwargs)
        else:
            await self.client.chat_postMessage(channel=user, **kwargs)
        self.outbox.wake()

    async def open_form(self, trigger_id: str, kind: ActionKind | Form, identity: Identity, state: FormState,
                        prefill: dict[str, str], label: str = "") -> None:
        if kind in (ActionKind.POST_REQUEST, Form.REQUEST):
            view = blocks.request_modal(state, prefill)
        elif kind in (ActionKind.SIGN, Form.SIGN):
            doc = await self.run(self.core.view, identity, agreement_document)
            if doc is None:
                return
            view = blocks.sign_modal(state.model_copy(update={"version": doc.version}), doc.title, doc.version,
                                     doc.text)
        elif kind is ActionKind.CLAIM_SOME:
            view = blocks.claim_some_modal(state, label)
        elif kind is ActionKind.REVOKE:
            view = blocks.reject_modal(state, label, "Revoke a claim")
        elif kind is ActionKind.REASSIGN:
            view = blocks.reassign_modal(state, label)
        else:
            view = blocks.reject_modal(state, label)
        await self.client.views_open(trigger_id=trigger_id, view=view)
