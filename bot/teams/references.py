"""Teams conversation references, kept in the database so any process can speak first.

Stored from inbound activities (a message, a click, the app's install): a channel's address for
request cards, a person's one-to-one chat for DMs, and any address at all to open a new chat with a
person who never wrote to the bot (`create_conversation` needs the tenant and the service URL).
Only an authenticated activity from someone on the roster changes an address (`remember_heard`):
anyone else's would let them point a channel's cards at a service of their own.

A one-to-one chat belongs to the Teams id that wrote in it (`user_id`): DMs find it by the person's
Teams id today, so a roster reload that moves ids never sends one person's DM into another's chat.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta

from botbuilder.core import TurnContext
from botbuilder.schema import Activity
from botbuilder.schema import ConversationReference as BotReference
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.db import Database
from models.queries import unreachable_teams_channels
from models.tables import Channel, ConversationReference, Person, Platform
from models.types import utcnow

PLATFORM = Platform.TEAMS
FRESH = timedelta(hours=1)


@dataclass(frozen=True)
class Seen:
    """What an inbound activity says about where the bot may speak."""

    conversation_id: str
    kind: str
    channel_id: str | None
    user_id: str | None
    sender_id: str | None
    tenant_id: str | None
    service_url: str
    reference: dict


def base_conversation_id(conversation_id: str) -> str:
    """A channel thread's id is the channel's id plus `;messageid=…`: keep the channel's."""
    return conversation_id.split(";", 1)[0]


def seen_in(activity: Activity) -> Seen | None:
    conv = activity.conversation
    if conv is None or not conv.id or not activity.service_url:
        return None
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    kind = conv.conversation_type or ("channel" if data.get("channel") else "personal")
    conversation_id = base_conversation_id(conv.id)
    ref = copy.deepcopy(TurnContext.get_conversation_reference(activity))  # never alter the activity
    ref.activity_id = None  # a reference to the conversation, not to this message
    ref.conversation.id = conversation_id
    tenant = conv.tenant_id or (data.get("tenant") or {}).get("id")
    channel_id = None
    if kind == "channel":
        channel_id = (data.get("channel") or {}).get("id") or conversation_id
    sender_id = activity.from_property.id if activity.from_property else None
    user_id = sender_id if kind == "personal" else None
    return Seen(conversation_id=conversation_id, kind=kind, channel_id=channel_id, user_id=user_id,
                sender_id=sender_id, tenant_id=tenant, service_url=activity.service_url, reference=ref.serialize())


def remember(db: Database, seen: Seen) -> None:
    """Insert or refresh the conversation's row (a race with another worker is retried once)."""
    _upsert(db, seen, lambda s: True)


def remember_heard(db: Database, seen: Seen) -> bool:
    """As `remember`, for an authenticated inbound activity: only when its sender is on the roster."""
    def on_roster(s: Session) -> bool:
        return bool(seen.sender_id) and s.exec(select(Person.id).where(Person.teams_id == seen.sender_id)).first() \
            is not None

    return _upsert(db, seen, on_roster)


def _upsert(db: Database, seen: Seen, allowed) -> bool:
    def work(s: Session) -> bool:
        if not allowed(s):
            return False
        row = s.exec(select(ConversationReference).where(
            ConversationReference.platform == PLATFORM,
            ConversationReference.conversation_id == seen.conversation_id)).first()
        person_id = None
        if seen.user_id:
            person = s.exec(select(Person).where(Person.teams_id == seen.user_id)).first()
            person_id = person.id if person else None
        if row is None:
            row = ConversationReference(platform=PLATFORM, conversation_id=seen.conversation_id)
            s.add(row)
        elif (row.reference == seen.reference and row.person_id == person_id and row.kind == seen.kind
              and row.updated_at > utcnow() - FRESH):
            return True  # known and recent: nothing to write
        row.kind, row.channel_id, row.user_id, row.person_id = seen.kind, seen.channel_id, seen.user_id, person_id
        row.tenant_id = seen.tenant_id or row.tenant_id
        row.service_url, row.reference, row.updated_at = seen.service_url, seen.reference, utcnow()
        return True

    try:
        return db.run(work)
    except IntegrityError:
        return db.run(work)


def _row(db: Database, *where) -> ConversationReference | None:
    stmt = select(ConversationReference).where(ConversationReference.platform == PLATFORM, *where)
    return db.read(lambda s: s.exec(stmt.order_by(ConversationReference.updated_at.desc())).first())


def for_channel(db: Database, channel_id: str) -> ConversationReference | None:
    return _row(db, ConversationReference.channel_id == channel_id)


def for_person(db: Database, person: Person) -> ConversationReference | None:
    """The one-to-one chat of the person's Teams id today, if that id ever wrote to the bot (never a
    chat found by person id alone: after a roster reload it may be someone else's)."""
    if not person.teams_id:
        return None
    return _row(db, ConversationReference.kind == "personal", ConversationReference.user_id == person.teams_id)


def any_address(db: Database) -> ConversationReference | None:
    """The newest address with a tenant: enough to open a chat with anyone in that tenant."""
    return _row(db, ConversationReference.tenant_id.is_not(None))


def as_reference(row: ConversationReference) -> BotReference:
    return BotReference().deserialize(row.reference)


def unreachable_channels(db: Database) -> list[Channel]:
    """Teams channels on the roster the bot has never heard from, so cannot post to yet."""
    return db.read(lambda s: unreachable_teams_channels(session=s))
