"""Fixtures: a real database (SQLite always; PostgreSQL too when TEST_DATABASE_URL is set),
the example roster, a controllable clock, and `chat`, which talks to the core like a user does.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel, select

from handlers.core import Surge
from handlers.roster import load_roster
from handlers.types import Audience, Identity, Reply
from models.db import Database
from models.tables import AuditEntry, OutboxMessage, Person

ROOT = Path(__file__).resolve().parents[1]
ROSTER = ROOT / "examples" / "roster.yml"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
START = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)  # Mon 1 Mar 2027, 09:00 in New York


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "surge.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@contextlib.contextmanager
def scratch_pg(prefix: str):
    """An empty PostgreSQL database of this test run's own, beside TEST_DATABASE_URL's (so parallel
    runs don't collide), dropped afterwards; yields its URL."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(PG_URL)
    name = f"{prefix}_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    """The migrated PostgreSQL database of this test run."""
    with scratch_pg("surge_test") as url:
        db = Database(url)
        db.upgrade()
        db.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path, sqlite_template) -> str:
    if request.param == "sqlite":
        path = tmp_path / "surge.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    return emptied(request.getfixturevalue("pg_migrated"))


def emptied(url: str) -> str:
    """The migrated PostgreSQL test database with every table emptied."""
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.dispose()
    return url


@pytest.fixture
def pg_url(request) -> str:
    """PostgreSQL only, for what SQLite cannot show (several server processes sharing row locks)."""
    if not PG_URL:
        pytest.skip("set TEST_DATABASE_URL to run this on PostgreSQL")
    return emptied(request.getfixturevalue("pg_migrated"))


@pytest.fixture
def db(db_url) -> Database:
    database = Database(db_url)
    yield database
    database.dispose()


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def roster_db(db, clock) -> Database:
    load_roster(db, ROSTER.read_text(), now=clock())
    return db


@dataclass
class Chat:
    """Talk to Surge as roster people do; see what everyone else was sent."""

    core: Surge
    platform: str = "console"
    sent: list[OutboxMessage] = field(default_factory=list)

    def say(self, who: str, text: str, *, key: str | None = None) -> Reply:
        return self.core.handle_text(Identity(platform=self.platform, user_id=who), text, key=key)

    def ok(self, who: str, text: str) -> Reply:
        reply = self.say(who, text)
        assert reply.ok, f"{who}: {text!r} was refused: {reply.text}"
        return reply

    def refused(self, who: str, text: str) -> Reply:
        before = self.state()
        reply = self.say(who, text)
        assert not reply.ok, f"{who}: {text!r} was accepted: {reply.text}"
        assert self.state() == before, f"a refused command changed the database: {text!r}"
        return reply

    def outbox(self) -> list[OutboxMessage]:
        with self.core.db.session() as s:
            return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())

    def messages_to(self, audience: Audience) -> list[dict]:
        return [m.payload for m in self.outbox() if m.kind == "message" and m.payload["audience"] == audience]

    def state(self) -> dict[str, list]:
        """Every row of every table, to prove that something changed nothing."""
        out = {}
        with self.core.db.engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                out[table.name] = [tuple(r) for r in conn.execute(table.select().order_by(*table.primary_key))]
        return out


def person_id(chat: Chat, name: str) -> int:
    with chat.core.db.session() as s:
        return s.exec(select(Person.id).where(Person.name == name)).one()


def dms_to(chat: Chat, name: str) -> list[dict]:
    """The DMs a roster person was sent, oldest first."""
    pid = person_id(chat, name)
    return [m for m in chat.messages_to(Audience.DM) if m["person_id"] == pid]


def audited(chat: Chat, action: str) -> list[AuditEntry]:
    with chat.core.db.session() as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


@pytest.fixture
def core(roster_db, clock) -> Surge:
    return Surge(roster_db, home_timezone="America/New_York", clock=clock)


@pytest.fixture
def chat(core) -> Chat:
    return Chat(core)


@pytest.fixture
def ready(chat) -> Chat:
    """Contoso has signed and Tom has acknowledged the guidelines; SR-1 (40 units) is posted."""
    chat.ok("Paula Admin", 'sign "Paula Admin"')
    chat.ok("Tom Tech", "guidelines ack")
    chat.ok(
        "Dana Dispatch",
        'request "DST patch, Main St office" units=40 deadline=2027-03-10 pay=35 bill=60 minutes=30 '
        'town=Hicksville customer="Acme Dental" site="12 Main St, Hicksville" contact="Ann Lee 516-555-0101" '
        "skills=windows",
    )
    return chat
