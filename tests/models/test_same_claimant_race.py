"""One claimant, many concurrent claims on the same request (double clicks, two devices): the claim
is read outside any lock and written conditionally, so a race between a person's own claims must
still end in one live claim holding every unit taken, on SQLite and on PostgreSQL."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from sqlmodel import select

from models.tables import LIVE_CLAIM, AuditEntry, Claim, Person, SurgeRequest
from tests.handlers.test_claim_races import held, run_in_thread

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


# -- PostgreSQL: a claim held between its read and its writes while another unit of work runs ----

@contextmanager
def held_after_read(chat, say: str):
    """Tom says `say` in a thread whose claim is held just after its read while the block runs; then
    it goes on. Yields the list its answer is put in."""
    with held(chat.core.db.engine, "claim", "SELECT surge_request.") as (reached, release):
        thread, out = run_in_thread("claim", lambda: chat.say("Tom Tech", say))
        assert reached.wait(timeout=60)
        yield out
        release.set()
        thread.join(timeout=60)


def live_claims(chat, rid: int) -> list[tuple[int, str]]:
    with chat.core.db.session() as s:
        return [(c.units, c.status) for c in s.exec(select(Claim).where(Claim.request_id == rid).order_by(Claim.id))]


@pytest.fixture
def on_pg(ready):
    if ready.core.db.is_sqlite:
        pytest.skip("SQLite runs one unit of work at a time: neither side can start inside the other")
    return ready


def test_a_first_claim_that_finds_a_claim_of_ones_own_made_since_its_read_tops_it_up(on_pg):
    with held_after_read(on_pg, "claim SR-1 1") as out:  # read: Tom has no claim
        on_pg.ok("Tom Tech", "claim SR-1 2")  # …and now he has one
    assert out[0].ok and "You have 3 units of SR-1" in out[0].text, out[0].text
    assert live_claims(on_pg, 1) == [(3, "active")]


def test_a_top_up_of_a_claim_released_since_its_read_makes_a_new_claim(on_pg):
    on_pg.ok("Tom Tech", "claim SR-1 2")
    with held_after_read(on_pg, "claim SR-1 1") as out:  # read: Tom holds 2, active
        on_pg.ok("Tom Tech", "release SR-1")
    assert out[0].ok and "You have 1 unit of SR-1" in out[0].text, out[0].text
    assert live_claims(on_pg, 1) == [(2, "released"), (1, "active")]
    with on_pg.core.db.session() as s:
        assert s.get(SurgeRequest, 1).units_taken == 1


def test_a_claim_on_a_request_filled_since_its_read_is_refused_and_changes_nothing(on_pg):
    on_pg.ok("Paula Admin", "guidelines ack")
    with held_after_read(on_pg, "claim SR-1 5") as out:  # read: 40 left
        on_pg.ok("Paula Admin", "claim SR-1 38")
    assert not out[0].ok and "Only 2 units of SR-1 are left" in out[0].text, out[0].text
    assert live_claims(on_pg, 1) == [(38, "active")]
