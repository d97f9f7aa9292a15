"""One entry point for every adapter: text or a typed command in, a `Reply` out.

Each call is one unit of work: the handler's changes, their audit rows and the outbox rows for
everyone else commit together or not at all. A refusal changes nothing. A replayed interaction
(same key: a Slack retry, a double click, a Teams re-delivery) gets the first answer again.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import String, bindparam, func, insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from handlers.buttons import typed_command
from handlers.common import home_zone, not_on_roster
from handlers.errors import NotOnRoster, SurgeError, to_reply
from handlers.lifecycle import deactivated
from handlers.registry import REGISTRY, parse, spec_for
from handlers.types import Action, Actor, Context, Identity, Reply, Tone
from models.db import Database, unreachable
from models.tables import (
    Org,
    OrgKind,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Person,
    ProcessedInteraction,
    Role,
    table_of,
)
from models.types import utcnow

log = logging.getLogger("surge.core")

_person, _org, _outbox = table_of(Person), table_of(Org), table_of(OutboxMessage)
_home = _org.alias("home_org")
# The home MSP's time zone (the roster's `home: timezone:`), read in the same statement as the speaker.
_HOME_TZ = sa_select(_home.c.timezone).where(_home.c.kind == OrgKind.HOME).limit(1).scalar_subquery()
_RESOLVE = (
    sa_select(_person.c.id, _person.c.name, _person.c.org_id, _person.c.roles, _person.c.timezone, _person.c.active,
              _org.c.name.label("org_name"), _org.c.kind.label("org_kind"), _org.c.timezone.label("org_timezone"),
              _org.c.tier.label("org_tier"), _HOME_TZ.label("home_timezone"))
    .join_from(_person, _org, _org.c.id == _person.c.org_id)
)
_USER = bindparam("user", type_=String)
_RESOLVE_BY = {  # the speaker's person and org, by platform id (or, in the console, by roster name)
    "slack": _RESOLVE.where(_person.c.slack_id == _USER),
    "teams": _RESOLVE.where(_person.c.teams_id == _USER),
    None: _RESOLVE.where(func.lower(_person.c.name) == _USER),
}
# One statement for all of a reply's outbox rows (RETURNING makes SQLAlchemy batch them as one INSERT).
_OUTBOX_INSERT = insert(_outbox).returning(_outbox.c.id)
NO_DATABASE = "Surge can't reach its database right now, try again in a minute."


class Surge:
    """The platform-neutral core, bound to a database, a home time zone and a clock."""

    def __init__(self, db: Database, *, home_timezone: str = "UTC", clock: Callable[[], datetime] = utcnow):
        import handlers.features  # noqa: F401 - registers every command

        self.db = db
        self.home_timezone = home_timezone
        self.clock = clock

    # -- entry points -------------------------------------------------------------------------

    def handle_text(self, identity: Identity, text: str, *, key: str | None = None) -> Reply:
        try:
            cmd = parse(text)
        except SurgeError as exc:
            return to_reply(exc)
        return self.handle(identity, cmd, key=key)

    def handle_action(self, identity: Identity, action: Action, *, key: str | None = None) -> Reply:
        """A button: its command, then its follow-up (e.g. acknowledge, then claim) if that succeeded."""
        cmd = typed_command(action)  # a claim's button carries ids, never a name to parse
        reply = (self.handle(identity, cmd, key=key) if cmd is not None
                 else self.handle_text(identity, action.command, key=key))
        if reply.ok and action.then:
            after = self.handle_text(identity, action.then, key=f"{key}:then" if key else None)
            after.text = f"{reply.text}\n\n{after.text}"
            after.messages = reply.messages + after.messages
            after.cards = reply.cards + [c for c in after.cards if c not in reply.cards]
            after.private = after.private or reply.private
            return after
        return reply

    def handle(self, identity: Identity, cmd: BaseModel, *, key: str | None = None) -> Reply:
        spec = spec_for(type(cmd))
        if spec.reads_only:
            key = None  # a replayed look changes nothing: it reads beside the writer and keeps no key

        def work(session: Session) -> Reply:
            record = None
            if key:
                done = session.get(ProcessedInteraction, key)
                if done is not None:
                    return Reply.model_validate(done.reply)
                # Claim the key first: the same interaction running concurrently waits on it, then
                # fails on the primary key and answers with what this one stored.
                record = ProcessedInteraction(key=key, at=self.clock())
                session.add(record)
                session.flush()
            actor = self.resolve(session, identity)
            if not spec.allows(actor.roles, actor.known):
                if not actor.known:
                    raise NotOnRoster(deactivated(session, identity) or not_on_roster(session))
                from handlers.common import require

                require(self.context(session, actor), *[Role(r) for r in sorted(spec.roles)], to=f"use `{spec.name}`")
            reply = spec.handler(cmd, self.context(session, actor))
            if spec.reads_only and (reply.messages or reply.cards):
                raise RuntimeError(f"`{spec.name}` is read-only but has something to send")
            enqueue(session, reply)
            if record is not None:
                record.reply = reply.model_dump(mode="json")
            return reply

        try:
            if spec.reads_only and not key:  # reads beside a writer (SQLite) instead of queueing for it
                return self.db.read(work)
            return self.db.run(work, refusals=(SurgeError,))  # one that wrote nothing keeps its statements
        except IntegrityError:
            if key:  # the same interaction, handled at the same moment by another worker
                with self.db.session() as session:
                    done = session.get(ProcessedInteraction, key)
                    if done is not None:
                        return Reply.model_validate(done.reply)
            return to_reply(RuntimeError("integrity error"))
        except Exception as exc:  # noqa: BLE001 - every failure becomes an answer
            if unreachable(exc):  # not a bug: the database didn't answer (down, hung, timed out)
                log.warning("database unavailable for `%s`: %s", spec.name, type(exc).__name__)
                return Reply(text=NO_DATABASE, tone=Tone.ERROR, ok=False)
            return to_reply(exc)

    def first_time(self, key: str) -> bool:
        """Record an inbound delivery (a Slack event id, a Teams activity id); False if seen before."""
        try:
            with self.db.session() as session:
                if session.get(ProcessedInteraction, key) is not None:
                    return False
                session.add(ProcessedInteraction(key=key, at=self.clock()))
            return True
        except IntegrityError:
            return False

    def view(self, identity: Identity, render: Callable[[Context], object]):
        """Run a read-only view (a home page, a form's contents) as this identity."""
        return self.db.read(lambda session: render(self.context(session, self.resolve(session, identity))))

    # -- helpers ------------------------------------------------------------------------------

    def context(self, session: Session, actor: Actor) -> Context:
        return Context(session=session, actor=actor, now=self.clock(),
                       home_timezone=actor.home_timezone or self.home_timezone)

    def resolve(self, session: Session, identity: Identity) -> Actor:
        """The speaker's person and org, in one statement (every unit of work starts here)."""
        stmt = _RESOLVE_BY.get(identity.platform)
        if stmt is not None:
            row = session.execute(stmt, {"user": identity.user_id}).first()
        else:
            row = session.execute(_RESOLVE_BY[None], {"user": identity.user_id.strip().lower()}).first()
        if row is None or not row.active:  # a deactivated person is off the roster
            home = home_zone(session, self.home_timezone)
            return Actor(identity=identity, timezone=home, home_timezone=home)
        home = row.home_timezone or self.home_timezone
        return Actor(
            identity=identity, person_id=row.id, name=row.name, org_id=row.org_id, org_name=row.org_name,
            is_home=row.org_kind == OrgKind.HOME, tier=row.org_tier, roles=frozenset(row.roles),
            timezone=row.timezone or row.org_timezone or home, home_timezone=home,
        )

    def commands(self) -> list[str]:
        return sorted(REGISTRY)


def enqueue(session: Session, reply: Reply) -> None:
    """Write what others must receive into the outbox, in the caller's transaction (one statement)."""
    if not reply.messages and not reply.cards:
        return
    now = utcnow()
    rows = [_outbox_row(OutboxKind.MESSAGE, m.model_dump(mode="json"), now) for m in reply.messages]
    rows += [_outbox_row(OutboxKind.CARD, c.model_dump(mode="json"), now) for c in reply.cards]
    session.execute(_OUTBOX_INSERT, rows).all()


def _outbox_row(kind: OutboxKind, payload: dict, now: datetime) -> dict:
    return {"created_at": now, "kind": kind, "payload": payload, "status": OutboxStatus.PENDING, "attempts": 0,
            "next_attempt_at": now, "last_error": ""}
