"""How a refused unit of work ends: a refusal changes nothing, always. On PostgreSQL one known to have written
nothing keeps its connection's prepared statements (psycopg's own rollback() deallocates them all), while one
that wrote anything, or may have, is rolled back as any error is."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import insert, select, text, update

from handlers.errors import Conflict
from models.db import WROTE
from models.tables import AuditEntry, SurgeRequest, table_of

_audit, _req = table_of(AuditEntry), table_of(SurgeRequest)
WARM = 7  # psycopg prepares a statement at its sixth execution on a connection


def refused(db, work) -> None:
    """Run `work(session)`, which ends in a refusal."""
    def run(session):
        work(session)
        raise Conflict("no")

    with pytest.raises(Conflict):
        db.run(run, refusals=(Conflict,))


def prepared(db) -> int | None:
    """The server's prepared statements on the pool's connection (a test runs one at a time); None on SQLite."""
    if db.is_sqlite:
        return None
    with db.engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
        conn.commit()  # ends without psycopg's rollback, which would deallocate them
    return n


def audit_actions(db) -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(_audit.c.action).order_by(_audit.c.id)).scalars())


def test_refused_claims_change_nothing_and_keep_the_prepared_statements(ready):
    """Refused as full, from the read alone or after the conditional UPDATE took nothing: no claim, no audit
    entry, no outbox row; on PostgreSQL the connection keeps what psycopg prepared."""
    ready.ok("Tom Tech", "claim SR-1")  # all 40
    before = ready.state()
    for _ in range(WARM):
        for text_ in ("claim SR-1", "claim SR-1 1"):
            reply = ready.say("Tom Tech", text_)
            assert not reply.ok and "fully claimed" in reply.text
    assert prepared(ready.core.db) != 0
    assert ready.state() == before


def test_reads_then_a_refusal_keep_the_prepared_statements(db):
    for _ in range(WARM):
        refused(db, lambda s: s.execute(select(_req.c.id)).all())
    assert prepared(db) != 0


@pytest.mark.parametrize("how", ["core insert", "orm flush", "orm pending", "text statement", "failed statement"])
def test_a_refusal_after_a_write_or_a_doubt_rolls_back_and_leaves_nothing(db, clock, how):
    def work(s):
        s.execute(select(_req.c.id)).all()
        if how == "core insert":
            s.connection().execute(insert(_audit).values(at=clock(), action="x", detail={}))
        elif how.startswith("orm"):
            s.add(AuditEntry(at=clock(), action="x", detail={}))
            if how == "orm flush":
                s.flush()
        elif how == "text statement":
            s.execute(text("SELECT 1")).all()
        else:
            with contextlib.suppress(Exception), s.begin_nested():
                s.execute(select(text("no_such_column")).select_from(_req)).all()

    for _ in range(WARM):
        refused(db, lambda s: s.execute(select(_req.c.id)).all())
    refused(db, work)
    assert audit_actions(db) == []
    assert prepared(db) in (None, 0)  # PostgreSQL: psycopg's rollback, which deallocates them


def test_an_update_that_matched_no_row_wrote_nothing_one_that_matched_did(db, clock):
    """PostgreSQL's rowcount is exact (psycopg holds the whole result), so an UPDATE … RETURNING that matched
    no row leaves the unit of work clean; one that changed a row makes it a write, and the refusal undoes it."""
    db.run(lambda s: s.connection().execute(insert(_audit).values(at=clock(), action="x", detail={})))

    def work(s):
        conn = s.connection()
        conn.execute(update(_audit).where(_audit.c.action == "none").values(action="y").returning(_audit.c.id)).all()
        assert conn.info.get(WROTE) is (None if db.is_sqlite else False)
        conn.execute(update(_audit).where(_audit.c.action == "x").values(action="y").returning(_audit.c.id)).all()
        assert conn.info.get(WROTE) is (None if db.is_sqlite else True)

    refused(db, work)
    assert audit_actions(db) == ["x"]
