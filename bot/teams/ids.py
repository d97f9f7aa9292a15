"""Every Adaptive Card verb Surge uses in Teams, and the state a card action carries.

Input ids are the platform-neutral form field names, `handlers.forms.FormField`.
"""
from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from handlers.buttons import Button
from handlers.types import ActionKind, Audience, Form

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
DATA_KEY = "surge"  # the key of an action's `data` that holds its `CardState`; inputs sit beside it


class Verb(StrEnum):
    """`Action.Execute` verbs: they arrive as `invoke` activities named `adaptiveCard/action`."""

    RUN = "surge.run"  # a button: runs its chat command (or opens its form)
    SUBMIT = "surge.submit"  # a form's submit button
    CANCEL = "surge.cancel"  # a form's cancel button


class Origin(StrEnum):
    """What kind of card a click came from, which decides what the click answers with."""

    REQUEST = "request"  # a request card (partner or dispatch copy): the updated card, plus the answer
    REPLY = "reply"  # an answer to the clicker: replaced by the next answer
    MESSAGE = "message"  # a notice or DM: kept; the answer comes as a new message


class CardState(BaseModel):
    """What an `Action.Execute` carries in `data["surge"]`: small, typed, never hand-split."""

    model_config = ConfigDict(extra="ignore")
    button: Button | None = None  # what the button does (RUN): ids on a claim, never names; a form completes it
    label: str | None = None  # the button's words, shown on the form it opens (never read back as a command)
    form: Form | None = None  # the form being submitted (SUBMIT, CANCEL)
    origin: Origin = Origin.REPLY
    request_id: int | None = None  # for REQUEST: which request card to re-render
    audience: Audience | None = None  # for REQUEST: the partner or the dispatch copy
    version: str | None = None  # the agreement version the sign form showed
    edit: int | None = None  # the request form edits this request (its submit runs `edit`, not `request`)

    @property
    def kind(self) -> ActionKind | None:
        return self.button.kind if self.button else None

    @property
    def command(self) -> str | None:
        return self.button.command if self.button else None

    @property
    def then(self) -> str | None:
        return self.button.then if self.button else None

    @property
    def prefill(self) -> dict[str, str]:
        return dict(self.button.prefill) if self.button else {}

    def about(self) -> str:
        """What a form opened by this button is about: the command it completes, or the request and the
        button's own words ("SR-7: Send back Tom Tech")."""
        if self.command:
            return f"`{self.command}`"
        request = f"SR-{self.button.request}" if self.button and self.button.request else ""
        return f"{request}: {self.label}" if request and self.label else request or self.label or ""

    def data(self) -> dict:
        return {DATA_KEY: self.model_dump(mode="json", by_alias=True, exclude_defaults=True)}
