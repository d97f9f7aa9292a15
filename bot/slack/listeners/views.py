"""Form (modal) submissions. The fields are read first (pure, quick): a mistake is shown beside its
field at once. Then the core runs, guarded: when it answers within `ACK_WITHIN`, a refusal is shown
beside the field too; when it is slower, the form is acknowledged (closed) first so Slack's 3-second
limit is never missed, and the outcome, a refusal included, reaches the sender as a message."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.slack.door import SlackApp
from bot.slack.forms import fields_of, read_request_form, read_signature
from bot.slack.ids import BlockId, CallbackId, FormState
from bot.slack.listeners.deps import Deps, first_line
from bot.text import clip
from handlers.agreements import SignAgreement
from handlers.buttons import typed_command
from handlers.editing import edit_from_fields, edit_values
from handlers.forms import (
    reason_from_fields,
    reassign_to_from_fields,
    units_from_fields,
)
from handlers.types import Reply

ACK_WITHIN = 1.5  # seconds the core may take before the form is acknowledged and answered by message
UNREADABLE = "This form can't be read any more (it may be from an older Surge): open it again."


def state_of(view: dict) -> FormState:
    return FormState.model_validate_json(view.get("private_metadata") or "{}")


async def submit(deps: Deps, ack, body: dict, state: FormState, block: BlockId,
                 work: Callable[[], Awaitable[Reply]]) -> None:
    """Run the core for a form, and answer: a refusal beside `block` when the core was quick."""
    task = asyncio.ensure_future(work())
    done, _ = await asyncio.wait({task}, timeout=ACK_WITHIN)
    if not done:  # slow: close the form now; the outcome follows as a message
        await ack()
        await deps.after_form(body["user"]["id"], state, await task)
        return
    reply = task.result()
    if not reply.ok:
        await ack(response_action="errors", errors={block: clip(first_line(reply.text), 200)})
        return
    await ack()
    await deps.after_form(body["user"]["id"], state, reply)


def register(app: SlackApp, deps: Deps) -> None:
    core = deps.core

    @app.view(CallbackId.REQUEST_FORM)
    async def on_request_form(ack, body, view) -> None:
        """A new request, or (the form opened by `edit SR-n`) the fields of SR-n that were changed."""
        state, identity = state_of(view), deps.who(body["user"]["id"])
        if state.edit is not None:
            before = await deps.run(core.view, identity, lambda ctx: edit_values(ctx, state.edit))
            cmd, errors = edit_from_fields(state.edit, fields_of(view["state"]["values"]), before)
        else:
            cmd, errors = read_request_form(view["state"]["values"])
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await submit(deps, ack, body, state, BlockId.TITLE,
                     lambda: deps.run(core.handle, identity, cmd, key=f"slack:view:{view['id']}"))

    @app.view(CallbackId.SIGN_FORM)
    async def on_sign_form(ack, body, view) -> None:
        name, errors = read_signature(view["state"]["values"])
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        state, identity, key = state_of(view), deps.who(body["user"]["id"]), f"slack:view:{view['id']}"

        async def sign_then() -> Reply:
            reply = await deps.run(core.handle, identity, SignAgreement(name=name), key=key)
            if reply.ok and state.then:  # e.g. the claim that asked for the signature
                after = await deps.run(core.handle_text, identity, state.then, key=f"{key}:then")
                # signed either way: the form closes, and what became of the claim is in the answer
                reply = after.model_copy(update={"text": f"{reply.text}\n\n{after.text}", "ok": True})
            return reply

        await submit(deps, ack, body, state, BlockId.NAME, sign_then)

    register_claim_forms(app, deps)


def register_claim_forms(app: SlackApp, deps: Deps) -> None:
    """The forms a button on a request opens: how many units, why, to whom."""
    core = deps.core

    @app.view(CallbackId.CLAIM_SOME_FORM)
    async def on_claim_some(ack, body, view) -> None:
        state = state_of(view)
        units, errors = units_from_fields(fields_of(view["state"]["values"]))
        if state.button is None or not state.button.command:
            errors = errors or {BlockId.UNITS: UNREADABLE}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        text = f"{state.button.command} {units}"
        await submit(deps, ack, body, state, BlockId.UNITS, lambda: deps.run(
            core.handle_text, deps.who(body["user"]["id"]), text, key=f"slack:view:{view['id']}"))

    @app.view(CallbackId.REJECT_FORM)
    async def on_reject_form(ack, body, view) -> None:
        state = state_of(view)
        why, errors = reason_from_fields(fields_of(view["state"]["values"]))
        cmd = typed_command(state.button.action(), why=why) if state.button and why else None
        await on_claim(ack, body, view, state, BlockId.WHY, cmd, errors)

    @app.view(CallbackId.REASSIGN_FORM)
    async def on_reassign_form(ack, body, view) -> None:
        state = state_of(view)
        to, units, errors = reassign_to_from_fields(fields_of(view["state"]["values"]))
        cmd = typed_command(state.button.action(), to=to, units=units) if state.button and to else None
        await on_claim(ack, body, view, state, BlockId.TO, cmd, errors)

    async def on_claim(ack, body, view, state: FormState, block: BlockId, cmd, errors) -> None:
        """A form completing a button on someone's claim (why, to whom): its command, built from ids."""
        if not errors and cmd is None:
            errors = {block: UNREADABLE}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await submit(deps, ack, body, state, block, lambda: deps.run(
            core.handle, deps.who(body["user"]["id"]), cmd, key=f"slack:view:{view['id']}"))
