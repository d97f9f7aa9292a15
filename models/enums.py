"""The words Surge stores for states and kinds, as `StrEnum`s: each member equals its string, so the
stored values (and the migrations) are the plain words, and code compares against the members."""
from __future__ import annotations

from enum import StrEnum


class OrgKind(StrEnum):
    HOME = "home"
    PARTNER = "partner"


class OrgStatus(StrEnum):
    PENDING = "pending"
    VETTED = "vetted"
    SUSPENDED = "suspended"


class Role(StrEnum):
    DISPATCHER = "dispatcher"
    TECH = "tech"
    PARTNER_ADMIN = "partner_admin"
    MANAGER = "manager"
    ADMIN = "admin"


class RequestStatus(StrEnum):
    OPEN = "open"
    PARTLY_CLAIMED = "partly_claimed"
    FULLY_CLAIMED = "fully_claimed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ClaimStatus(StrEnum):
    PENDING = "pending"  # waiting for a dispatcher's approval
    ACTIVE = "active"
    IN_PROGRESS = "in_progress"  # checked in
    DONE = "done"  # reported, waiting for verification
    VERIFIED = "verified"
    RELEASED = "released"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REVOKED = "revoked"  # taken back by a dispatcher (or by a suspension)
    REASSIGNED = "reassigned"  # every unit moved to another person by a dispatcher


LIVE_CLAIM = (ClaimStatus.PENDING, ClaimStatus.ACTIVE, ClaimStatus.IN_PROGRESS, ClaimStatus.DONE)
TERMINAL_REQUEST = (RequestStatus.COMPLETED, RequestStatus.CANCELLED, RequestStatus.EXPIRED)


class IncidentKind(StrEnum):
    SOLICITATION = "solicitation"  # suspected poaching of a customer or of staff: the agreement's subject
    CONDUCT = "conduct"
    QUALITY = "quality"


class Platform(StrEnum):
    """A chat platform a channel, a card copy or a conversation reference lives on."""

    SLACK = "slack"
    TEAMS = "teams"


class ChannelPurpose(StrEnum):
    """What a roster channel is for: which cards and notices go there."""

    PARTNERS = "partners"  # the shared partner channels of a tier: public content only
    DISPATCH = "dispatch"  # the home MSP's dispatch channel
    MANAGERS = "managers"  # the home MSP's managers channel


class OutboxKind(StrEnum):
    """The two lanes of the outbox: notices and DMs, and request cards (posted or updated in place)."""

    MESSAGE = "message"
    CARD = "card"


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # leased by a sender until `next_attempt_at`
    SENT = "sent"
    FAILED = "failed"  # given up on: `failures` lists it
