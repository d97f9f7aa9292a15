"""Typed errors that become a short answer to the sender, in one place (`to_reply`).

Every refusal says what was wrong and, where it helps, one correct example or who can help.
An unexpected error is logged with an id the user can quote; the user never sees a traceback.
"""
from __future__ import annotations

import logging
import secrets

from handlers.types import Action, Fact, Reply, Tone

log = logging.getLogger("surge.errors")


class SurgeError(Exception):
    """A refusal the sender can act on. Nothing was changed."""

    def __init__(
        self, message: str, *, example: str | None = None, actions: list[Action] | None = None,
        fields: list[Fact] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.example = example
        self.actions = actions or []
        self.fields = fields or []


class UsageError(SurgeError):
    """The words of the command are off."""


class NotFound(SurgeError):
    """A request, person or partner that does not exist."""


class Forbidden(SurgeError):
    """The sender's role does not allow it."""


class Conflict(SurgeError):
    """The state does not allow it (not enough units, already verified, cancelled…)."""


class GateClosed(SurgeError):
    """A claim gate: vetting, agreement or guidelines."""


class NotOnRoster(SurgeError):
    """The speaker is not a person Surge knows."""


def to_reply(exc: BaseException) -> Reply:
    if isinstance(exc, SurgeError):
        text = exc.message
        if exc.example:
            text += f"\nExample: `{exc.example}`"
        tone = Tone.WARNING if isinstance(exc, GateClosed) else Tone.ERROR
        return Reply(text=text, tone=tone, ok=False, actions=exc.actions, fields=exc.fields)
    error_id = "E-" + secrets.token_hex(4)
    log.exception("unexpected error %s", error_id, exc_info=exc)
    return Reply(
        text=f"Something went wrong on our side and nothing was changed. "
        f"If it happens again, give your admin this id: {error_id}.",
        tone=Tone.ERROR,
        ok=False,
    )
