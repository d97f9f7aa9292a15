"""One claimant, many concurrent claims on the same request (double clicks, two devices): the claim
is read outside any lock and written conditionally, so a race between a person's own claims must
still end in one live claim holding every unit taken, on SQLite and on PostgreSQL."""
from __future__ import annotations

import threading

from sqlmodel import select

from models.tables import LIVE_CLAIM, AuditEntry, Claim, Person, SurgeRequest

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
