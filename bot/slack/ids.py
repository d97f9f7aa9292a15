"""Every Slack action id, callback id and block id Surge uses, in one place."""
from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from handlers.buttons import Button
from handlers.forms import FormField


class ActionId(StrEnum):
    BUTTON = "surge.button"  # a button running a chat command; the id is suffixed with its position


class CallbackId(StrEnum):
    REQUEST_FORM = "surge.form.request"
    SIGN_FORM = "surge.form.sign"
    CLAIM_SOME_FORM = "surge.form.claim_some"
    REJECT_FORM = "surge.form.reject"
    REASSIGN_FORM = "surge.form.reassign"


BlockId = FormField  # a modal's block ids are the platform-neutral form field names


class FormState(BaseModel):
    """What a modal carries in `private_metadata` (≤ 3,000 characters)."""

    channel_id: str | None = None  # where to answer after submit; none: a DM
    button: Button | None = None  # the button that opened the form (claim some, reject, revoke, reassign)
    then: str | None = None  # runs after the form's command succeeded
    version: str | None = None  # the agreement version shown in the sign form
    edit: int | None = None  # the request form edits this request (its submit runs `edit`, not `request`)
