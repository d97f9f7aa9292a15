"""Card clicks (`adaptiveCard/action` invokes): run the button's command through the core, and answer
with the card the clicker sees next.

- On a request card: the card as it now stands, with the clicker's answer (or a form) under it. That
  view is the clicker's alone; everyone's copy is then updated in place by the outbox.
- On an answer: the next answer (or a form) replaces it, as a sequence of steps.
- On a notice or a DM (a job's details): it stays as it was; the answer comes as a new message.

A form is an Adaptive Card; its submit is checked here again, and a mistake comes back as the same
form with the values kept and the reason beside the input.
"""
from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from pydantic import ValidationError

from bot.teams import cards
from bot.teams.claim_forms import reassign_form
from bot.teams.forms import fields_of, read_reason, read_request_form, read_signature, read_units
from bot.teams.ids import DATA_KEY, CardState, Origin, Verb
from bot.teams.notifier import card_activity
from bot.workers import in_core
from handlers.agreements import SignAgreement, agreement_document
from handlers.buttons import NOT_A_BUTTON, needs_form, typed_command
from handlers.core import Surge
from handlers.editing import edit_from_fields, edit_values
from handlers.forms import FormField, reassign_to_from_fields
from handlers.privacy import clicked_copy
from handlers.types import ActionKind, Form, Identity, Message, Reply

log = logging.getLogger("surge.teams")

UNREADABLE = "This form can't be read any more (it may be from an older Surge): open it again."
FORM_OF = {ActionKind.CLAIM_SOME: Form.CLAIM_SOME, ActionKind.SIGN: Form.SIGN, ActionKind.REJECT: Form.REJECT,
           ActionKind.REVOKE: Form.REJECT, ActionKind.REASSIGN: Form.REASSIGN, ActionKind.POST_REQUEST: Form.REQUEST}


def first_line(text: str) -> str:
    return text.split("\n", 1)[0]


class CardActions:
    def __init__(self, core: Surge):
        self.core = core

    async def handle(self, tc: TurnContext, identity: Identity, action: dict, key: str) -> dict:
        data = action.get("data") if isinstance(action.get("data"), dict) else {}
        try:
            state = CardState.model_validate(data.get(DATA_KEY) or {})
        except ValidationError:
            return cards.message_response(NOT_A_BUTTON)  # a forged or garbled button: nothing runs
        inputs = {k: v for k, v in data.items() if k != DATA_KEY}
        verb = action.get("verb")
        if verb == Verb.RUN and state.button:
            return await self.run(tc, identity, state, key)
        if verb == Verb.SUBMIT and state.form:
            return await self.submit(tc, identity, state, inputs, key)
        if verb == Verb.CANCEL:
            return await self.show(identity, state) if state.origin is Origin.REQUEST else \
                cards.card_response(cards.card(cards.text_blocks("Cancelled; nothing was changed.")))
        return cards.message_response("Surge doesn't know that button.")

    async def run(self, tc: TurnContext, identity: Identity, state: CardState, key: str) -> dict:
        clicked = state.button.action()
        if needs_form(clicked):
            return await self.form(identity, FORM_OF[clicked.kind], state, dict(clicked.prefill))
        reply = await in_core(self.core.handle_action, identity, clicked, key=key)
        if reply.form:
            return await self.form(identity, reply.form, state.model_copy(update={"edit": reply.edits}),
                                   dict(reply.prefill))
        if state.origin is Origin.MESSAGE:  # keep the notice; answer below it
            await tc.send_activity(card_activity(cards.reply_card(reply), cards.fallback(reply.title, reply.text)))
            return cards.message_response(first_line(reply.text))
        return await self.answer(identity, state, reply)

    async def submit(self, tc: TurnContext, identity: Identity, state: CardState, inputs: dict, key: str) -> dict:
        form, run = state.form, in_core
        if form is Form.REQUEST:
            cmd, errors = await self.request_command(identity, state, inputs)
            if errors:
                return await self.form(identity, form, state, inputs, errors)
            reply = await run(self.core.handle, identity, cmd, key=key)
            if not reply.ok:
                return await self.form(identity, form, state, inputs, {"": reply.text})
        elif form is Form.SIGN:
            name, errors = read_signature(inputs)
            if errors:
                return await self.form(identity, form, state, inputs, errors)
            reply = await run(self.core.handle, identity, SignAgreement(name=name), key=key)
            if not reply.ok:
                return await self.form(identity, form, state, inputs, {FormField.NAME: first_line(reply.text)})
            if state.then:
                after = await run(self.core.handle_text, identity, state.then, key=f"{key}:then")
                reply = after.model_copy(update={"text": f"{reply.text}\n\n{after.text}"})
        elif form in (Form.CLAIM_SOME, Form.REJECT, Form.REASSIGN):
            cmd, field, errors = self.completed(state, form, inputs)
            if errors:
                return await self.form(identity, form, state, inputs, errors)
            reply = await run(self.core.handle_text if isinstance(cmd, str) else self.core.handle, identity, cmd,
                              key=key)
            if not reply.ok:
                return await self.form(identity, form, state, inputs, {field: first_line(reply.text)})
        else:
            return cards.message_response("Surge doesn't know that form.")
        return await self.answer(identity, state, reply)

    @staticmethod
    def completed(state: CardState, form: Form, inputs: dict):
        """The command a button's form completes (how many units; why; to whom), the input a refusal is
        shown beside, and the errors: a claim's button is completed by ids (`typed_command`), never a name."""
        if form is Form.CLAIM_SOME:
            units, errors = read_units(inputs)
            cmd = f"{state.command} {units}" if state.command and units else None
            return cmd, FormField.UNITS, errors or ({} if cmd else {FormField.UNITS: UNREADABLE})
        clicked = state.button.action() if state.button else None
        if form is Form.REJECT:
            why, errors = read_reason(inputs)
            cmd = typed_command(clicked, why=why) if clicked and why else None
            return cmd, FormField.WHY, errors or ({} if cmd else {FormField.WHY: UNREADABLE})
        to, units, errors = reassign_to_from_fields(fields_of(inputs))
        cmd = typed_command(clicked, to=to, units=units) if clicked and to else None
        return cmd, FormField.TO, errors or ({} if cmd else {FormField.TO: UNREADABLE})

    async def request_command(self, identity: Identity, state: CardState, inputs: dict):
        """A new request, or (the form opened by `edit SR-n`) the fields of SR-n that were changed."""
        if state.edit is None:
            return read_request_form(inputs)
        before = await in_core(self.core.view, identity, lambda ctx: edit_values(ctx, state.edit))
        return edit_from_fields(state.edit, fields_of(inputs), before)

    # -- what the clicker sees next -------------------------------------------------------------

    async def answer(self, identity: Identity, state: CardState, reply: Reply) -> dict:
        if state.origin is Origin.REQUEST:
            return await self.show(identity, state, answer=reply)
        return cards.card_response(cards.reply_card(reply))

    async def form(self, identity: Identity, form: Form, state: CardState, values: dict,
                   errors: dict[str, str] | None = None) -> dict:
        items = await self.form_items(identity, form, state, values, errors)
        if items is None:
            return cards.message_response("There is no agreement to sign yet.")
        if state.origin is Origin.REQUEST:
            return await self.show(identity, state, form=items)
        return cards.card_response(cards.card(items))

    async def form_items(self, identity: Identity, form: Form, state: CardState, values: dict,
                         errors: dict[str, str] | None = None) -> list[dict] | None:
        if form is Form.SIGN:
            doc = await in_core(self.core.view, identity, agreement_document)
            if doc is None:
                return None
            return cards.sign_form(state, doc.title, doc.version, doc.text, values, errors)
        if form is Form.REQUEST:
            return cards.request_form(state, values, errors)
        if form is Form.CLAIM_SOME:
            return cards.claim_some_form(state, values, errors)
        if form is Form.REASSIGN:
            return reassign_form(state, values, errors)
        return cards.reject_form(state, values, errors)

    async def show(self, identity: Identity, state: CardState, *, answer: Reply | None = None,
                   form: list[dict] | None = None) -> dict:
        """The request card the click came from, as it stands now (the dispatch copy for home staff only)."""
        copy = await in_core(self.core.view, identity, lambda ctx: self._copy(ctx, state))
        if copy is None:  # the request is gone: answer alone
            return cards.card_response(cards.card(form) if form else cards.reply_card(answer or Reply(text="Done.")))
        return cards.card_response(cards.request_card_with(copy, answer=answer, form=form))

    def _copy(self, ctx, state: CardState) -> Message | None:
        return clicked_copy(ctx, state.request_id, clicked=state.audience, home_timezone=self.core.home_timezone)
