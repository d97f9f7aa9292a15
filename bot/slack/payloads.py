"""The shapes of what Slack sends that Surge's listeners read, checked before Bolt routes anything.

A signed request that is not one of these shapes is answered 400 at the door (`bot.slack.door`), so
Bolt's matchers and our listeners only ever see the fields they index, of the types they expect.
Keep a model beside each listener's reads: a listener that starts reading a new field adds it here.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.slack.ids import ActionId, FormState

Id = Annotated[str, StringConstraints(min_length=1, max_length=255)]
BUTTON = re.compile(rf"^{re.escape(ActionId.BUTTON)}\.\d+$")


class Malformed(ValueError):
    """A request that parsed, but is not a shape Surge reads. Its text names no field's value."""


class User(BaseModel):
    id: Id


class Channel(BaseModel):
    id: Id


class SlashCommand(BaseModel):
    command: Id
    user_id: Id
    text: str = ""
    channel_id: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None


class Clicked(BaseModel):
    action_id: Id
    value: str | None = None
    action_ts: str | None = None

    @model_validator(mode="after")
    def _ours_carry_a_value(self) -> Clicked:
        # what the value says is read by the listener (`handlers.buttons.Button`), which answers one that
        # is not a Surge button in words; here only that there is one
        if BUTTON.match(self.action_id) and not self.value:
            raise ValueError("a Surge button carries a value")
        return self


class ContainerView(BaseModel):
    type: str | None = None


class BlockActions(BaseModel):
    type: Literal["block_actions"]
    user: User
    actions: list[Clicked] = Field(min_length=1)
    trigger_id: str | None = None
    channel: Channel | None = None
    view: ContainerView | None = None
    response_url: str | None = None


class ViewState(BaseModel):
    values: dict[str, dict[str, dict[str, Any]]]


class View(BaseModel):
    id: Id
    type: Id
    callback_id: str
    private_metadata: str = ""
    state: ViewState

    @field_validator("private_metadata")
    @classmethod
    def _form_state(cls, value: str) -> str:
        FormState.model_validate_json(value or "{}")
        return value


class ViewSubmission(BaseModel):
    type: Literal["view_submission", "view_closed"]
    user: User
    view: View


class Event(BaseModel):
    type: Id
    user: str | None = None
    channel: str | None = None
    channel_type: str | None = None
    text: str | None = None
    tab: str | None = None
    subtype: str | None = None
    bot_id: str | None = None

    @model_validator(mode="after")
    def _spoken_by_someone(self) -> Event:
        typed = self.type == "message" and self.channel_type == "im" and not (self.subtype or self.bot_id)
        if (self.type in ("app_mention", "app_home_opened") or typed) and not self.user:
            raise ValueError("an event someone caused names them")
        if self.type == "app_mention" and not self.channel:
            raise ValueError("a mention names its channel")
        return self


class EventCallback(BaseModel):
    type: Literal["event_callback"]
    event_id: Id
    event: Event


class UrlVerification(BaseModel):
    type: Literal["url_verification"]
    challenge: Id


KINDS: dict[str, type[BaseModel]] = {
    "block_actions": BlockActions, "view_submission": ViewSubmission, "view_closed": ViewSubmission,
    "event_callback": EventCallback, "url_verification": UrlVerification,
}


def check(body: object) -> None:
    """Raise `Malformed` unless `body` (as Bolt parsed it) is a request Surge knows how to read."""
    if not isinstance(body, dict):
        raise Malformed("the body is not an object")
    if "command" in body:  # as Bolt tells a slash command apart
        model: type[BaseModel] | None = SlashCommand
    elif body.get("ssl_check") == "1":
        return
    else:
        model = KINDS.get(body.get("type")) if isinstance(body.get("type"), str) else None
    if model is None:
        raise Malformed("not a kind of request Surge reads")
    try:
        model.model_validate(body)
    except (ValidationError, ValueError, RecursionError) as exc:
        # only where it failed, never the input: the body may name a customer
        # (two levels are field names or list positions; deeper ones may be the sender's own keys)
        where = exc.errors(include_input=False)[0]["loc"][:2] if isinstance(exc, ValidationError) else ()
        raise Malformed(f"{model.__name__} is malformed at {'.'.join(map(str, where)) or 'the top'}") from None
