"""What a button carries, for every chat platform alike: a small typed model, never a command string
with a name in quotes.

A button acting on someone's claim (approve, verify, reject, revoke, reassign) carries the request's
id and the person's id; a button that names nobody (`claim SR-7`, `status SR-7`, `digest`) carries
its command. The adapters serialise a `Button` compactly (a Slack button's `value`, ≤ 2,000
characters; a Teams `Action.Execute`'s `data`) and read it back with `Button.read`, which refuses
anything that is not one (a forged or garbled value) with `BadButton`. A click then runs through
`Surge.handle_action`, on the same handler functions as the text commands (`typed_command`).
"""
from __future__ import annotations

import json
import logging
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from handlers.types import FORM_KINDS, Action, ActionKind

log = logging.getLogger("surge.buttons")

# Kinds that act on one person's claim on one request: they carry ids, never names.
ON_CLAIM = frozenset({ActionKind.APPROVE, ActionKind.VERIFY, ActionKind.REJECT, ActionKind.REVOKE,
                      ActionKind.REASSIGN})
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Words = Annotated[str, StringConstraints(max_length=1000)]
NOT_A_BUTTON = "That button can't be read (it may be from an older Surge). Nothing was changed: type the command instead."


class BadButton(ValueError):
    """A button value that is not a Surge `Button`. Its text quotes nothing from the value."""


def person_ref(person_id: int) -> str:
    """A person named by roster id, for a command built from a button (`common.find_person` reads it)."""
    return f"<person:{person_id}>"


class Button(BaseModel):
    """A button's state: what it does (`k`), to which request (`r`) and whose claim (`p`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    kind: ActionKind = Field(alias="k")
    request: Id | None = Field(default=None, alias="r")
    person: Id | None = Field(default=None, alias="p")
    why: Words | None = Field(default=None, alias="w")  # a reason the button already gives (revoke on suspension)
    command: Words | None = Field(default=None, alias="c")  # a command naming nobody (`claim SR-7`, `digest`)
    then: Words | None = Field(default=None, alias="t")  # runs after the command succeeded
    prefill: dict[str, Annotated[str, StringConstraints(max_length=2000)]] = Field(default_factory=dict, alias="f")

    @model_validator(mode="after")
    def _typed(self) -> Button:
        if self.kind in ON_CLAIM:
            if self.request is None or self.person is None or self.command is not None:
                raise ValueError("a button on a claim carries a request and a person, not a command")
        elif not self.command:
            raise ValueError("a button names its command")
        return self

    @classmethod
    def of(cls, action: Action, *, prefill: bool = True) -> Button:
        """The state of an action's button."""
        if action.kind in ON_CLAIM and action.request_id and action.person_id:
            return cls(kind=action.kind, request=action.request_id, person=action.person_id, why=action.why,
                       then=action.then)
        kind = action.kind
        if kind in ON_CLAIM:  # a claim's button built without ids: it still works, as its text command
            log.warning("a %s button was built without a request and person id", kind)
            kind = ActionKind.RUN
        return cls(kind=kind, command=action.command, then=action.then, prefill=dict(action.prefill) if prefill else {})

    def action(self) -> Action:
        """The `Action` this button stands for."""
        return Action(kind=self.kind, label="", command=self.command or "", then=self.then,
                      prefill=dict(self.prefill), request_id=self.request, person_id=self.person, why=self.why)

    def dump(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)

    def value(self) -> str:
        """Compact JSON, as a Slack button's `value`."""
        return json.dumps(self.dump(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def read(cls, raw: object) -> Button:
        """A button's state from a Slack `value` (JSON text) or a Teams `data` entry (an object)."""
        try:
            data = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(data, dict):
                raise BadButton("a button's state is an object")
            return cls.model_validate(data)
        except (ValueError, ValidationError, RecursionError, TypeError) as exc:
            raise BadButton("not a Surge button") from exc


def needs_form(action: Action) -> bool:
    """Whether a click opens a form first (how many units, why, to whom, a signature, a request)."""
    return action.kind in FORM_KINDS and (action.kind not in ON_CLAIM or typed_command(action) is None)


def typed_command(action: Action, *, why: str | None = None, units: int | None = None,
                  to: str | None = None) -> BaseModel | None:
    """The command a claim's button runs, built from its ids (and what its form asked for), or None
    for a button that runs its text command. A reason missing where one is needed is None too: the
    adapter opens the form that asks for it."""
    if action.kind not in ON_CLAIM or not (action.request_id and action.person_id):
        return None
    from handlers.claims import ApproveClaim
    from handlers.completion import RejectClaim, VerifyWork
    from handlers.control import ReassignUnits, RevokeClaim

    request, person, why = action.request_id, person_ref(action.person_id), why or action.why
    if action.kind is ActionKind.APPROVE:
        return ApproveClaim(request=request, person=person)
    if action.kind is ActionKind.VERIFY:
        return VerifyWork(request=request, person=person, units=units)
    if action.kind is ActionKind.REASSIGN:
        return ReassignUnits(request=request, holder=person, to=to, units=units) if to else None
    if not why:
        return None
    if action.kind is ActionKind.REJECT:
        return RejectClaim(request=request, person=person, why=why)
    return RevokeClaim(request=request, person=person, why=why)
