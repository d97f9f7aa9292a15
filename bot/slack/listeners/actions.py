"""Button clicks: acknowledged at once; the button's typed state (`handlers.buttons.Button`) is read
back, a form opens if the button asks for one, otherwise the core runs it and the clicker alone is
told the outcome (through `response_url`). A value that is not a Surge button gets a plain answer and
changes nothing."""
from __future__ import annotations

from bot.slack.door import SlackApp
from bot.slack.ids import FormState
from bot.slack.listeners import home
from bot.slack.listeners.deps import Deps
from bot.slack.payloads import BUTTON
from handlers.buttons import NOT_A_BUTTON, BadButton, Button, needs_form
from handlers.types import Reply, Tone


def form_label(button: Button, action: dict) -> str:
    """What the form is about: the request and the button's own words ("Send back Tom Tech"), or the
    command it completes (`claim SR-7`)."""
    if button.command:
        return f"`{button.command}`"
    said = (action.get("text") or {}).get("text") if isinstance(action.get("text"), dict) else None
    return f"SR-{button.request}: {said}" if said else f"SR-{button.request}"


def register(app: SlackApp, deps: Deps) -> None:
    @app.action(BUTTON)
    async def on_button(ack, body, action) -> None:
        await ack()
        identity = deps.who(body["user"]["id"])
        try:
            button = Button.read(action.get("value"))
        except BadButton:
            await deps.answer(body, Reply(text=NOT_A_BUTTON, tone=Tone.ERROR, ok=False))
            return
        clicked = button.action()
        channel = (body.get("channel") or {}).get("id")
        if needs_form(clicked):
            # the form carries the button (≤ 3,000 characters of private_metadata); its prefill is in the form
            state = FormState(channel_id=channel, button=button.model_copy(update={"prefill": {}}), then=clicked.then)
            await deps.open_form(body["trigger_id"], clicked.kind, identity, state, clicked.prefill,
                                 form_label(button, action))
            return
        key = f"slack:action:{body['user']['id']}:{action.get('action_ts')}"
        reply = await deps.run(deps.core.handle_action, identity, clicked, key=key)
        if reply.form:
            state = FormState(channel_id=channel, then=clicked.then, edit=reply.edits)
            await deps.open_form(body["trigger_id"], reply.form, identity, state, reply.prefill)
        else:
            await deps.answer(body, reply)
        deps.outbox.wake()
        if (body.get("view") or {}).get("type") == "home":
            await home.publish(deps, body["user"]["id"])  # the page as it now stands
