"""How a read-only unit of work ends: on PostgreSQL one that wrote nothing keeps its connection's prepared
statements (psycopg's own rollback() deallocates them all), so the reads after it are not parsed and planned
again; one that ran anything else, or failed, is rolled back as before and leaves nothing."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import insert, select, text

from models.tables import AuditEntry, SurgeRequest, table_of
from tests.models.test_refusal_ends import audit_actions, prepared

_audit, _req = table_of(AuditEntry), table_of(SurgeRequest)
WARM = 7  # psycopg prepares a statement at its sixth execution on a connection


def test_reads_keep_the_prepared_statements(db):
    for _ in range(WARM):
        assert db.read(lambda s: s.execute(select(_req.c.id)).all()) == []
    assert prepared(db) != 0


def test_status_and_list_keep_the_prepared_statements(ready):
    for _ in range(WARM):
        assert ready.say("Tom Tech", "status SR-1").title.startswith("SR-1")
        assert ready.say("Tom Tech", "list").ok
    assert prepared(ready.core.db) != 0


@pytest.mark.parametrize("how", ["text statement", "core insert", "failed read"])
def test_a_read_after_a_doubt_rolls_back_and_leaves_nothing(db, clock, how):
    def work(s):
        s.execute(select(_req.c.id)).all()
        if how == "text statement":
            s.execute(text("SELECT 1")).all()
        elif how == "core insert":
            s.connection().execute(insert(_audit).values(at=clock(), action="x", detail={}))
        else:
            s.execute(select(text("no_such_column")).select_from(_req)).all()

    for _ in range(WARM):
        db.read(lambda s: s.execute(select(_req.c.id)).all())
    with pytest.raises(Exception) if how == "failed read" else contextlib.nullcontext():
        db.read(work)
    assert audit_actions(db) == []
    assert prepared(db) in (None, 0)  # PostgreSQL: psycopg's rollback, which deallocates them

