"""What goes into a handler and what comes out, for every chat platform alike.

A handler returns a `Reply`: what the sender sees, plus `Message`s for others (a DM, the dispatch
channel, the partner channels) and the request cards to post or update. Adapters only render these.

Privacy is a property of the model: a `Message` marked `private` (it names a customer, a site or a
contact) cannot be addressed to the partner channels; constructing one raises.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SkipValidation, model_validator
from sqlmodel import Session


class Audience(StrEnum):
    SENDER = "sender"  # only the person who asked (ephemeral in Slack, a reply in Teams)
    DM = "dm"  # a direct message to one person
    PARTNERS = "partners"  # the shared partner channels of a tier: public content only
    DISPATCH = "dispatch"  # the home MSP's dispatch channel
    MANAGERS = "managers"  # the home MSP's managers channel


class Tone(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class ActionKind(StrEnum):
    """What a button does. Every action runs a chat command through the same grammar."""

    CLAIM_ALL = "claim_all"
    CLAIM_SOME = "claim_some"  # asks how many first
    DETAILS = "details"
    SIGN = "sign"  # opens the sign form
    ACK_GUIDELINES = "ack_guidelines"
    APPROVE = "approve"
    VERIFY = "verify"
    REJECT = "reject"  # asks why first
    REVOKE = "revoke"  # asks why first
    REASSIGN = "reassign"  # asks to whom (and how many units) first
    POST_REQUEST = "post_request"  # opens the request form, prefilled
    EDIT = "edit"  # runs `edit SR-n` alone, which answers with the request form, prefilled as the request stands
    START = "start"
    RUN = "run"


# Buttons that open a form first (how many units, why, to whom, a signature, a request).
FORM_KINDS = frozenset({ActionKind.CLAIM_SOME, ActionKind.SIGN, ActionKind.REJECT, ActionKind.REVOKE,
                        ActionKind.REASSIGN, ActionKind.POST_REQUEST})


class Action(BaseModel):
    """A button. `command` is the chat command it runs (its text equivalent); `then` runs after it
    succeeds. A button on someone's claim also carries the request's and the person's ids: that is
    what it sends (`handlers.buttons.Button`), never the person's name."""

    model_config = ConfigDict(frozen=True)
    kind: ActionKind
    label: str
    command: str
    then: str | None = None
    style: str | None = None  # primary | danger
    prefill: dict[str, str] = Field(default_factory=dict)  # for actions that open a form
    request_id: int | None = None  # approve, verify, reject, revoke, reassign: whose claim on which request
    person_id: int | None = None
    why: str | None = None  # a reason the button gives already (revoke on a suspension)


class Fact(BaseModel):
    model_config = ConfigDict(frozen=True)
    label: str
    value: str
    at: datetime | None = None  # the moment `value` spells out, for platforms that localise it per reader


class Form(StrEnum):
    REQUEST = "request"
    SIGN = "sign"
    CLAIM_SOME = "claim_some"
    REJECT = "reject"
    REASSIGN = "reassign"


class Chart(BaseModel):
    """Data for a picture (a stacked bar per category); adapters draw it (PNG) at delivery."""

    title: str
    categories: list[str]
    series: dict[str, list[int]]  # name → one value per category, stacked in this order
    unit: str = "units"  # what the values count (the axis label)
    horizontal: bool = False  # bars across, the first category on top
    shares: bool = False  # each bar drawn as the share of its own total (the values stay counts)
    marked: list[int] = Field(default_factory=list)  # categories to mark (late work), by position


class FileOut(BaseModel):
    """A file for the sender (a CSV export): the console writes it out; a chat platform uploads it."""

    model_config = ConfigDict(frozen=True)
    name: str
    content: str
    command: str = ""  # the same file from the command line, for a platform that cannot receive it


class Message(BaseModel):
    audience: Audience
    text: str
    title: str | None = None
    fields: list[Fact] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    tone: Tone = Tone.INFO
    person_id: int | None = None  # for DM
    tier: int | None = None  # for PARTNERS: the request's visible tier
    request_id: int | None = None
    private: bool = False  # names a customer, site or contact
    chart: Chart | None = None

    @model_validator(mode="after")
    def _privacy(self) -> Message:
        if self.audience is Audience.PARTNERS and self.private:
            raise ValueError("private request details cannot be addressed to partner channels")
        if self.audience is Audience.DM and self.person_id is None:
            raise ValueError("a DM needs a person")
        return self


class CardChange(StrEnum):
    POST = "post"  # post the request card to its tier's partner channels and to dispatch
    UPDATE = "update"  # re-render every posted copy in place


class CardIntent(BaseModel):
    model_config = ConfigDict(frozen=True)
    request_id: int
    change: CardChange = CardChange.UPDATE


class Reply(BaseModel):
    """The answer to the sender, and what the change means for everyone else."""

    text: str
    title: str | None = None
    fields: list[Fact] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    tone: Tone = Tone.INFO
    ok: bool = True  # False: refused, and nothing was changed
    form: Form | None = None  # a form the adapter should open for the sender
    prefill: dict[str, str] = Field(default_factory=dict)
    edits: int | None = None  # the request a REQUEST form edits (its submit runs `edit`, not `request`)
    messages: list[Message] = Field(default_factory=list)
    cards: list[CardIntent] = Field(default_factory=list)
    chart: Chart | None = None
    # Set by the handler that put a customer, site or contact into this answer: an adapter answering
    # in a shared channel then sends it to the sender alone (a DM), never to the channel.
    private: bool = False
    file: FileOut | None = None  # a file for the sender (a CSV export)

    def card(self, request_id: int, change: CardChange = CardChange.UPDATE) -> Reply:
        if CardIntent(request_id=request_id, change=change) not in self.cards:
            self.cards.append(CardIntent(request_id=request_id, change=change))
        return self

    def tell(self, *messages: Message) -> Reply:
        self.messages.extend(messages)
        return self


class Identity(BaseModel):
    """Who is speaking, as the platform knows them."""

    model_config = ConfigDict(frozen=True)
    platform: str  # slack | teams | console
    user_id: str  # Slack user id, Teams user id, or a roster name in the console


class Actor(BaseModel):
    """A resolved speaker: a roster person, or an unknown identity."""

    model_config = ConfigDict(frozen=True)
    identity: Identity
    person_id: int | None = None
    name: str | None = None
    org_id: int | None = None
    org_name: str | None = None
    is_home: bool = False
    tier: int = 1  # the speaker's org's tier: a partner sees a request once its visible tier reaches this
    roles: frozenset[str] = frozenset()
    timezone: str = "UTC"
    home_timezone: str | None = None  # the home MSP's, as the roster has it (None: the setting's)

    @property
    def known(self) -> bool:
        return self.person_id is not None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def pid(self) -> int:
        """The person id of a speaker on the roster: for the commands only people on it may use."""
        if self.person_id is None:
            raise RuntimeError(f"{self.identity.user_id!r} is not on the roster")
        return self.person_id

    @property
    def oid(self) -> int:
        """The org id of a speaker on the roster (every person belongs to an org)."""
        if self.org_id is None:
            raise RuntimeError(f"{self.identity.user_id!r} is not on the roster")
        return self.org_id

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


class Context(BaseModel):
    """Everything a handler needs besides its command: the session, the speaker, the time."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)
    session: SkipValidation[Session]  # the unit of work's; pydantic takes it as it is
    actor: Actor
    now: datetime
    home_timezone: str = "UTC"
