"""One claimant, many concurrent claims on the same request (double clicks, two devices): the claim
is read outside any lock and written conditionally, so a race between a person's own claims must
still end in one live claim holding every unit taken, on SQLite and on PostgreSQL."""
from __future__ import annotations

import threading

import pytest
from sqlmodel import select

from models.tables import LIVE_CLAIM, AuditEntry, Claim, Person, SurgeRequest
from tests.handlers.test_claim_races import (
    held,
    run_in_thread,
    wait_until_blocked_or_done,
)

THREADS, EACH = 8, 3


def test_one_claimant_racing_itself_keeps_one_claim(ready):
    barrier, replies = threading.Barrier(THREADS), []

    def claimant() -> None:
        barrier.wait(timeout=60)
        for _ in range(EACH):
            replies.append(ready.say("Tom Tech", "claim SR-1 1"))

    threads = [threading.Thread(target=claimant) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r.ok for r in replies), [r.text for r in replies if not r.ok]
    with ready.core.db.session() as s:
        tom = s.exec(select(Person).where(Person.name == "Tom Tech")).one()
        claims = s.exec(select(Claim).where(Claim.request_id == 1, Claim.status.in_(LIVE_CLAIM))).all()
        req = s.get(SurgeRequest, 1)
        taken = s.exec(select(AuditEntry).where(AuditEntry.request_id == 1, AuditEntry.action == "claim.taken")).all()
    assert [(c.person_id, c.units) for c in claims] == [(tom.id, THREADS * EACH)]
    assert req.units_taken == THREADS * EACH == sum(a.units for a in taken) == len(taken)
    assert sorted(a.detail["total"] for a in taken) == list(range(1, THREADS * EACH + 1))


# -- PostgreSQL: a claim that waits on the request's row lock while another unit of work holds it ----

def second_waits_on_first(chat, first: tuple[str, str, str], second: tuple[str, str]):
    """`first` (who, what, the statement it is held after) runs in a thread and is held inside its
    transaction; `second` (who, what) starts and waits for it on the request's row lock; then `first`
    goes on. The answers of both."""
    engine = chat.core.db.engine
    with held(engine, "first", first[2]) as (reached, release):
        one, first_out = run_in_thread("first", lambda: chat.say(first[0], first[1]))
        assert reached.wait(timeout=60)
        two, second_out = run_in_thread("second", lambda: chat.say(*second))
        assert wait_until_blocked_or_done(engine, two), "the second did not wait for the first"
        release.set()
        one.join(timeout=60)
        two.join(timeout=60)
    return first_out[0], second_out[0]


def claims_on(chat, rid: int) -> list[tuple[int, str]]:
    with chat.core.db.session() as s:
        return [(c.units, c.status) for c in s.exec(select(Claim).where(Claim.request_id == rid).order_by(Claim.id))]


@pytest.fixture
def on_pg(ready):
    if ready.core.db.is_sqlite:
        pytest.skip("SQLite runs one unit of work at a time: neither side can start inside the other")
    return ready


def test_a_first_claim_that_finds_a_claim_of_ones_own_made_meanwhile_tops_it_up(on_pg):
    first, second = second_waits_on_first(on_pg, ("Tom Tech", "claim SR-1 2", "UPDATE surge_request"),
                                          ("Tom Tech", "claim SR-1 1"))  # began when Tom had no claim
    assert first.ok and second.ok, (first.text, second.text)
    assert "You have 3 units of SR-1" in second.text, second.text
    assert claims_on(on_pg, 1) == [(3, "active")]


def test_a_top_up_of_a_claim_released_meanwhile_makes_a_new_claim(on_pg):
    on_pg.ok("Tom Tech", "claim SR-1 2")
    first, second = second_waits_on_first(on_pg, ("Tom Tech", "release SR-1", "SELECT surge_request."),
                                          ("Tom Tech", "claim SR-1 1"))  # began when Tom held 2
    assert first.ok and second.ok, (first.text, second.text)
    assert "You have 1 unit of SR-1" in second.text, second.text
    assert claims_on(on_pg, 1) == [(2, "released"), (1, "active")]
    with on_pg.core.db.session() as s:
        assert s.get(SurgeRequest, 1).units_taken == 1


def test_a_claim_on_a_request_filled_meanwhile_is_refused_and_changes_nothing(on_pg):
    on_pg.ok("Paula Admin", "guidelines ack")
    first, second = second_waits_on_first(on_pg, ("Paula Admin", "claim SR-1 38", "UPDATE surge_request"),
                                          ("Tom Tech", "claim SR-1 5"))  # began with 40 left
    assert first.ok and not second.ok, (first.text, second.text)
    assert "Only 2 units of SR-1 are left" in second.text, second.text
    assert claims_on(on_pg, 1) == [(38, "active")]
