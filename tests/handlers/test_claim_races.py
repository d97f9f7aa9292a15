"""A claim racing a suspension of the claimant's partner: whichever commits first, no claim that has
not started outlives the suspension (it is refused, or taken and then revoked with its units back).

Released together by a barrier, or one side first and then the other; and, on PostgreSQL, each side
held at the exact point where the other could slip past it: a claim that has read its gates (org
vetted) and not yet committed, and a suspension that has updated the org and not yet committed.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text
from sqlmodel import select

from models.tables import Claim, Org, SurgeRequest
from tests.handlers.test_control import (
    CRASHES,
    DANA,
    MORGAN,
    STAGES,
    TOM,
    books_balance,
    post,
    race,
)

CONTOSO = "Contoso Field Services"


def contoso_status(chat) -> str:
    with chat.core.db.session() as s:
        return s.exec(select(Org.status).where(Org.name == CONTOSO)).one()


def toms_claims(chat, rid: int) -> list[Claim]:
    with chat.core.db.session() as s:
        return list(s.exec(select(Claim).where(Claim.request_id == rid)).all())


def outcome(chat, rid: int, claimed, suspended) -> str:
    """What became of the claim: "refused" (nothing taken) or "revoked" (taken, then taken back)."""
    texts = [claimed.text, suspended.text]
    assert suspended.ok and not any(c in t for t in texts for c in CRASHES), texts
    assert contoso_status(chat) == "suspended"
    req = books_balance(chat, rid)
    assert (req.units_taken, req.status) == (0, "open"), "a claim outlived the suspension"
    if not claimed.ok:
        assert "suspended" in claimed.text, claimed.text
        assert toms_claims(chat, rid) == []
        return "refused"
    [c] = toms_claims(chat, rid)
    assert (c.status, c.units) == ("revoked", 5)
    assert "Revoked 1 claim not started" in suspended.text
    return "revoked"


def test_a_claim_racing_a_suspension_is_refused_or_revoked(ready):
    seen = set()
    for stages in STAGES:
        rid = post(ready, 20)
        claimed, suspended = race(lambda rid=rid: ready.say(TOM, f"claim SR-{rid} 5"),
                                  lambda rid=rid: ready.say(MORGAN, f'suspend Contoso "customer complaint {rid}"'),
                                  stages=stages)
        seen.add(outcome(ready, rid, claimed, suspended))
        ready.ok(MORGAN, "reinstate Contoso")
    assert seen == {"refused", "revoked"}  # the claim came both before and after the suspension


# -- PostgreSQL: each side held inside its transaction while the other runs ---------------------

@contextmanager
def held(engine, thread: str, statement_starts: str):
    """Hold the named thread's transaction just after it runs a statement starting so (until the
    yielded `release` is set); `reached` is set when it gets there."""
    reached, release = threading.Event(), threading.Event()

    def after(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread().name == thread and statement.lstrip().startswith(statement_starts):
            reached.set()
            assert release.wait(timeout=60), "never released"

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield reached, release
    finally:
        release.set()
        event.remove(engine, "after_cursor_execute", after)


def run_in_thread(name: str, fn) -> tuple[threading.Thread, list]:
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()), name=name)
    t.start()
    return t, out


def wait_until_blocked_or_done(engine, thread: threading.Thread) -> bool:
    """Wait until a session of this database waits on a row lock (True), or the thread has finished
    (False): whichever comes first. Polls PostgreSQL's own view of its sessions."""
    done = threading.Event()
    with engine.connect() as conn:
        for _ in range(6000):
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar()
            conn.rollback()
            if waiting:
                return True
            if not thread.is_alive():
                return False
            done.wait(0.005)
    raise AssertionError("neither blocked nor done")


@pytest.fixture
def on_pg(ready):
    if ready.core.db.is_sqlite:
        pytest.skip("SQLite runs one unit of work at a time: neither side can start inside the other")
    return ready


def test_a_suspension_waits_for_a_claim_that_read_its_gates_then_revokes_it(on_pg):
    chat = on_pg
    rid = post(chat, 20)
    engine = chat.core.db.engine
    with held(engine, "claim", "UPDATE surge_request") as (reached, release):
        claimer, claimed = run_in_thread("claim", lambda: chat.say(TOM, f"claim SR-{rid} 5"))
        assert reached.wait(timeout=60)  # the claim found Contoso vetted, and holds its row FOR SHARE
        suspender, suspended = run_in_thread("suspend", lambda: chat.say(MORGAN, "suspend Contoso"))
        assert wait_until_blocked_or_done(engine, suspender), "the suspension did not wait for the claim"
        release.set()
        claimer.join(timeout=60)
        suspender.join(timeout=60)
    assert claimed[0].ok, claimed[0].text  # taken first…
    assert outcome(chat, rid, claimed[0], suspended[0]) == "revoked"  # …then revoked by the suspension


def test_a_claim_waits_for_a_suspension_that_updated_the_org_then_is_refused(on_pg):
    chat = on_pg
    rid = post(chat, 20)
    engine = chat.core.db.engine
    with held(engine, "suspend", "UPDATE org SET") as (reached, release):
        suspender, suspended = run_in_thread("suspend", lambda: chat.say(MORGAN, "suspend Contoso"))
        assert reached.wait(timeout=60)  # Contoso is suspended in a transaction not yet committed
        claimer, claimed = run_in_thread("claim", lambda: chat.say(TOM, f"claim SR-{rid} 5"))
        assert wait_until_blocked_or_done(engine, claimer), "the claim did not wait for the suspension"
        release.set()
        suspender.join(timeout=60)
        claimer.join(timeout=60)
    assert outcome(chat, rid, claimed[0], suspended[0]) == "refused"
    with chat.core.db.session() as s:
        assert s.get(SurgeRequest, rid).units_taken == 0
    chat.ok(DANA, f"status SR-{rid}")
