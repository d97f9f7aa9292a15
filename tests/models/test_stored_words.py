"""Channel purposes, platforms and outbox states are StrEnums in the code and plain words in the
database: what was stored before reads back as the members, and a word that is none is refused."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError
from sqlmodel import select

from models.tables import Channel, ChannelPurpose, OutboxKind, OutboxMessage, OutboxStatus, Platform


def test_a_stored_word_reads_back_as_its_member_and_is_stored_as_the_word(db):
    with db.engine.begin() as conn:  # as an earlier version of Surge (or a migration) wrote it
        conn.execute(text("INSERT INTO channel (platform, external_id, purpose, tier, active) "
                          "VALUES ('teams', '19:dispatch', 'dispatch', NULL, true)"))
    with db.session() as s:
        s.add(OutboxMessage(kind=OutboxKind.CARD, payload={}, last_error=""))
    with db.session() as s:
        chan = s.exec(select(Channel)).one()
        row = s.exec(select(OutboxMessage)).one()
        assert (chan.platform, chan.purpose) == (Platform.TEAMS, ChannelPurpose.DISPATCH)
        assert type(chan.purpose) is ChannelPurpose and chan.purpose == "dispatch"
        assert (row.kind, row.status) == (OutboxKind.CARD, OutboxStatus.PENDING)
        assert s.exec(select(Channel).where(Channel.purpose == "dispatch")).one() is chan
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT kind, status FROM outbox_message")).one()
    assert tuple(stored) == ("card", "pending")


def test_a_word_that_is_not_a_member_is_refused_and_nothing_is_stored(db):
    with pytest.raises(StatementError, match="'lobby' is not a valid ChannelPurpose"):
        with db.session() as s:
            s.add(Channel(platform=Platform.SLACK, external_id="C0LOBBY", purpose="lobby"))  # type: ignore[arg-type]
    with db.session() as s:
        assert s.exec(select(Channel)).all() == []
