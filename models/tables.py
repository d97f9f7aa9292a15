"""Surge's tables. Times are UTC; money is whole cents; units are whole numbers.

Every change of state is accompanied, in the same transaction, by an `AuditEntry` row.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy import JSON, CheckConstraint, Column, Index, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.enums import (  # noqa: F401  (re-exported: the tables' words live beside them)
    LIVE_CLAIM,
    TERMINAL_REQUEST,
    ChannelPurpose,
    ClaimStatus,
    IncidentKind,
    OrgKind,
    OrgStatus,
    OutboxKind,
    OutboxStatus,
    Platform,
    RequestStatus,
    Role,
)
from models.types import EnumText, UTCDateTime, utcnow


def _ts(nullable: bool = True, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class _Stored(Protocol):
    id: int | None


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a table model, for Core statements on the hot paths."""
    return model.__table__  # type: ignore[attr-defined]  # set by the mapping; SQLModel declares none


def pks(values: Iterable[int | None]) -> list[int]:
    """Ids read back from a primary key column (never NULL there), as the ints they are."""
    return [v for v in values if v is not None]


def pk(row: _Stored) -> int:
    """A row's id, which the database gives it: set once the row is flushed or read back."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id before it is flushed")
    return row.id


class Org(SQLModel, table=True):
    __tablename__ = "org"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    kind: str = Field(default=OrgKind.PARTNER, max_length=16)
    status: str = Field(default=OrgStatus.PENDING, max_length=16)
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    timezone: str | None = Field(default=None, max_length=64)
    tier: int = 1  # a partner sees and claims a request once its visible tier has reached this one
    terms_days: int = 30  # days from verification to payment
    # The six vetting questions, each 1..5, set by a manager with `vet`.
    score_quality: int | None = None
    score_commitment: int | None = None
    score_track: int | None = None
    score_reputation: int | None = None
    score_credit: int | None = None
    score_rapport: int | None = None
    vetted_by_id: int | None = None  # person id; no foreign key (person refers to org)
    vetted_at: datetime | None = Field(default=None, sa_column=_ts())


class Person(SQLModel, table=True):
    __tablename__ = "person"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    org_id: int = Field(foreign_key="org.id", index=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    slack_id: str | None = Field(default=None, unique=True, max_length=64)
    teams_id: str | None = Field(default=None, unique=True, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    active: bool = True  # False once a roster load no longer lists them: they can't act or be told

    def has(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)


class Channel(SQLModel, table=True):
    __tablename__ = "channel"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: Platform = Field(sa_type=EnumText(Platform, 16))
    external_id: str = Field(max_length=200)
    purpose: ChannelPurpose = Field(sa_type=EnumText(ChannelPurpose, 16))
    tier: int | None = None
    name: str | None = Field(default=None, max_length=200)
    active: bool = True  # False once a roster load no longer lists it: no cards or notices go there


class AgreementVersion(SQLModel, table=True):
    __tablename__ = "agreement_version"
    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(unique=True, max_length=64)
    title: str = Field(max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    text_hash: str = Field(max_length=64)
    term_months: int = 12
    is_current: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))


class Signature(SQLModel, table=True):
    __tablename__ = "signature"
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="org.id", index=True)
    agreement_id: int = Field(foreign_key="agreement_version.id", index=True)
    signer_id: int | None = Field(default=None, foreign_key="person.id")
    typed_name: str = Field(max_length=200)
    signed_at: datetime = Field(sa_column=_ts(False))
    expires_at: datetime = Field(sa_column=_ts(False))
    text_hash: str = Field(max_length=64)
    method: str = Field(max_length=16)  # chat | imported


class GuidelineVersion(SQLModel, table=True):
    __tablename__ = "guideline_version"
    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(unique=True, max_length=64)
    introduce: str = Field(sa_column=Column(Text, nullable=False))
    never_share: str = Field(sa_column=Column(Text, nullable=False))
    escalate: str = Field(sa_column=Column(Text, nullable=False))
    more_work: str = Field(sa_column=Column(Text, nullable=False))
    text_hash: str = Field(max_length=64)
    is_current: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))


class GuidelineAck(SQLModel, table=True):
    __tablename__ = "guideline_ack"
    __table_args__ = (UniqueConstraint("person_id", "guideline_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    guideline_id: int = Field(foreign_key="guideline_version.id")
    acked_at: datetime = Field(sa_column=_ts(False))


class SurgeRequest(SQLModel, table=True):
    """A block of work the home MSP cannot staff. `units_taken` is the sum of live claims."""

    __tablename__ = "surge_request"
    __table_args__ = (
        CheckConstraint("units > 0", name="units_positive"),
        CheckConstraint("units_taken >= 0 AND units_taken <= units", name="units_taken_bounds"),
        CheckConstraint("units_verified >= 0 AND units_verified <= units_taken", name="units_verified_bounds"),
    )
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    scope: str = Field(default="", sa_column=Column(Text, nullable=False))
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    units: int
    units_taken: int = 0
    units_verified: int = 0
    minutes_per_unit: int = 30
    pay_cents: int = 0  # paid to the partner per unit
    bill_cents: int = 0  # billed to the customer per unit
    window_start: datetime | None = Field(default=None, sa_column=_ts())
    deadline: datetime = Field(sa_column=_ts(False, index=True))
    # Private: only home staff and the claimants ever see these.
    customer: str = Field(default="", max_length=200)
    site: str = Field(default="", max_length=300)
    contact: str = Field(default="", max_length=300)
    # Public: the area the partner card shows.
    town: str = Field(default="", max_length=120)
    approval_required: bool = False
    tier: int = 1
    visible_tier: int = 1
    tier_delay_minutes: int = 30
    status: str = Field(default=RequestStatus.OPEN, max_length=20, index=True)
    status_reason: str = Field(default="", max_length=500)
    created_by_id: int = Field(foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))

    @property
    def ref(self) -> str:
        return f"SR-{self.id}"

    @property
    def units_left(self) -> int:
        return self.units - self.units_taken


class Claim(SQLModel, table=True):
    __tablename__ = "claim"
    __table_args__ = (
        CheckConstraint("units > 0", name="claim_units_positive"),
        Index("ix_claim_request_person", "request_id", "person_id"),
        # A request's claims, covering every claim column the partners' track record reads. With an
        # index led by org_id, SQLite walked the claims in org order and looked each claim row and its
        # request up at random, which grew faster than the data; this one is read in request order
        # (each request's page once, in turn) and grouped by org in a small temporary tree.
        Index("ix_claim_request_track", "request_id", "org_id", "status", "units_verified", "rework", "done_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="surge_request.id")  # indexed by ix_claim_request_track
    person_id: int = Field(foreign_key="person.id", index=True)
    org_id: int = Field(foreign_key="org.id")
    units: int
    units_done: int = 0
    units_verified: int = 0
    pay_cents: int = 0  # the request's pay per unit when the claim was taken: what the partner is owed
    bill_cents: int = 0  # the request's bill rate per unit when the claim was taken: what the customer is billed
    status: str = Field(default=ClaimStatus.ACTIVE, max_length=20, index=True)
    rework: int = 0  # times the work was sent back
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    approved_at: datetime | None = Field(default=None, sa_column=_ts())
    started_at: datetime | None = Field(default=None, sa_column=_ts())
    done_at: datetime | None = Field(default=None, sa_column=_ts())
    verified_at: datetime | None = Field(default=None, sa_column=_ts(index=True))
    closed_at: datetime | None = Field(default=None, sa_column=_ts())


class CompletionReport(SQLModel, table=True):
    __tablename__ = "completion_report"
    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    units: int
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    reported_at: datetime = Field(sa_column=_ts(False))
    outcome: str = Field(default="waiting", max_length=16)  # waiting | verified | sent_back
    outcome_reason: str = Field(default="", sa_column=Column(Text, nullable=False))


class Incident(SQLModel, table=True):
    """Something a partner did that the home MSP records against it (`IN-n`); the partner may answer."""

    __tablename__ = "incident"
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="org.id", index=True)
    request_id: int | None = Field(default=None, foreign_key="surge_request.id")
    reported_by_id: int = Field(foreign_key="person.id")
    kind: str = Field(default=IncidentKind.CONDUCT, max_length=16)
    text: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(sa_column=_ts(False, index=True))
    response: str = Field(default="", sa_column=Column(Text, nullable=False))
    responded_by_id: int | None = Field(default=None, foreign_key="person.id")
    responded_at: datetime | None = Field(default=None, sa_column=_ts())
    resolution: str = Field(default="", sa_column=Column(Text, nullable=False))
    resolved_by_id: int | None = Field(default=None, foreign_key="person.id")
    resolved_at: datetime | None = Field(default=None, sa_column=_ts())

    @property
    def ref(self) -> str:
        return f"IN-{self.id}"


class Settlement(SQLModel, table=True):
    """A partner's month marked paid by a manager; a settled month never changes."""

    __tablename__ = "settlement"
    __table_args__ = (UniqueConstraint("org_id", "month"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="org.id", index=True)
    month: str = Field(max_length=7)  # YYYY-MM, in the settling manager's time zone
    ref: str = Field(default="", max_length=200)  # the payment reference
    by_id: int = Field(foreign_key="person.id")
    at: datetime = Field(sa_column=_ts(False))
    total_cents: int = 0


class AuditEntry(SQLModel, table=True):
    """Append-only history. Written in the same transaction as the change it records."""

    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_ts(False, index=True))
    action: str = Field(max_length=40, index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    request_id: int | None = Field(default=None, foreign_key="surge_request.id", index=True)
    claim_id: int | None = Field(default=None, foreign_key="claim.id")
    org_id: int | None = Field(default=None, foreign_key="org.id")
    units: int | None = None
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OutboxMessage(SQLModel, table=True):
    """What must reach a channel or a DM, written with the change it reports; a sender delivers it."""

    __tablename__ = "outbox_message"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    kind: OutboxKind = Field(sa_type=EnumText(OutboxKind, 16))
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=EnumText(OutboxStatus, 16), index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))  # or a lease's end
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False))
    lease_owner: str | None = Field(default=None, max_length=80)  # the sender holding a `sending` row


class OutboxDelivery(SQLModel, table=True):
    """One target an outbox message already reached, written right after the send: a row taken up
    again after a crash skips it. `origin_id` is the row first written (retry rows carry it)."""

    __tablename__ = "outbox_delivery"
    __table_args__ = (UniqueConstraint("origin_id", "target"),)
    id: int | None = Field(default=None, primary_key=True)
    origin_id: int = Field(index=True)
    target: str = Field(max_length=300)  # "slack:C0123" or "person:12"
    ref: str = Field(default="", max_length=200)  # the platform's message reference
    at: datetime = Field(default_factory=utcnow, sa_column=_ts(False, index=True))


PENDING_POST = "pending:"  # a PostedCard's message_ref while its post is under way: `pending:<sender>:<outbox row>`


class PostedCard(SQLModel, table=True):
    """One copy of a request card in one chat channel, so that every copy can be updated in place."""

    __tablename__ = "posted_card"
    __table_args__ = (UniqueConstraint("request_id", "platform", "channel_id"),)
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="surge_request.id", index=True)
    platform: Platform = Field(sa_type=EnumText(Platform, 16))
    channel_id: str = Field(max_length=200)
    # Slack ts / Teams activity id; "pending:<sender>:<outbox id>" while that sender is posting it
    message_ref: str = Field(max_length=200)
    purpose: ChannelPurpose = Field(sa_type=EnumText(ChannelPurpose, 16))
    posted_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))


class ProcessedInteraction(SQLModel, table=True):
    """Keys of clicks, retries and re-deliveries already handled: a replay gets the same answer."""

    __tablename__ = "processed_interaction"
    key: str = Field(primary_key=True, max_length=200)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts(False, index=True))
    reply: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ConversationReference(SQLModel, table=True):
    """Where a chat platform lets the bot speak first: one row per conversation it has seen.

    Teams only lets a bot post proactively (a request card in a partner channel, a DM, a reminder
    from the scheduler process) into a conversation it knows the address of. The adapter stores that
    address, as the platform gives it, on every inbound activity. `channel_id` matches
    `Channel.external_id` for channels; `person_id` is set for a person's one-to-one chat.
    """

    __tablename__ = "conversation_reference"
    __table_args__ = (UniqueConstraint("platform", "conversation_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: Platform = Field(sa_type=EnumText(Platform, 16))  # teams
    conversation_id: str = Field(max_length=400)
    kind: str = Field(default="", max_length=16)  # personal | channel | groupChat
    channel_id: str | None = Field(default=None, max_length=200, index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    user_id: str | None = Field(default=None, max_length=200, index=True)  # the platform's id of a 1:1 chat's user
    tenant_id: str | None = Field(default=None, max_length=100)
    service_url: str = Field(max_length=500)
    reference: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))


from models.followups import Lead, LeadState, Problem  # noqa: E402,F401  (their tables, with their state)
