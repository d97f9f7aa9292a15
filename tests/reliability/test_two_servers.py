"""Two `surge serve` processes on one PostgreSQL database, 10,000 random operations over HTTP from
50 clients: no request ever oversubscribed, every accepted operation in the audit log, and the final
counts equal a replay of the audit log."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter

from sqlmodel import select

from models.db import Database
from models.tables import LIVE_CLAIM, AuditEntry, Claim, ClaimStatus, SurgeRequest
from tests.reliability.conftest import command, crew_roster, start_serve

CLIENTS, OPS, REQUESTS, UNITS = 50, 10_000, 5, 150
ACCEPTED = ":white_check_mark:"
AUDITED = {"claim": "claim.taken", "release": "claim.released", "start": "claim.started", "done": "claim.done",
           "verify": "claim.verified"}


def signed_roster(tmp_path) -> str:
    path = crew_roster(tmp_path, CLIENTS)
    text = open(path).read().replace(
        "    skills: [windows, networking]\n",
        '    skills: [windows, networking]\n    signed:\n      version: "2027-01"\n      by: Paula Admin\n'
        "      date: 2026-11-01\n", 1)
    open(path, "w").write(text)
    return path


def test_two_servers_ten_thousand_operations_keep_the_books(pg_url, fake_slack, tmp_path):
    roster = signed_roster(tmp_path)
    servers = [start_serve(pg_url, fake_slack, tmp_path, roster=roster, name=f"s{i}") for i in range(2)]
    try:
        urls = [s.url for s in servers]
        for i in range(REQUESTS):
            status, answer = command(urls[i % 2], "U0DANA", f'request "Job {i}" units={UNITS} deadline=2030-03-10 pay=35 town=Hicksville')
            assert status == 200 and "Posted" in answer["text"]
        for i in range(CLIENTS):
            assert "acknowledged" in command(urls[i % 2], f"U0CREW{i:03d}", "guidelines ack")[1]["text"]
        accepted, refused, errors = Counter(), Counter(), []
        lock = threading.Lock()

        def client(i: int) -> None:
            rnd, me = random.Random(i), f"U0CREW{i:03d}"
            for n in range(OPS // CLIENTS):
                sr = f"SR-{rnd.randint(1, REQUESTS)}"
                kind = rnd.choices(["claim", "release", "start", "done", "verify"], [40, 15, 15, 15, 15])[0]
                user, text = me, {"claim": f"claim {sr} {rnd.randint(1, 6)}", "release": f"release {sr} {rnd.randint(1, 3)}",
                                  "start": f"start {sr}", "done": f"done {sr}"}.get(kind, "")
                if kind == "verify":
                    user, text = "U0DANA", f'verify {sr} "Crew {rnd.randrange(CLIENTS):03d}"'
                status, answer = command(urls[(i + n) % 2], user, text)
                with lock:
                    if status != 200 or "Something went wrong" in str(answer):
                        errors.append((status, text, str(answer)[:200]))
                    elif ACCEPTED in str(answer.get("blocks")):
                        accepted[kind] += 1
                    else:
                        refused[kind] += 1

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(900)
        took = time.perf_counter() - started
        print(f"\n[two servers] {OPS} ops from {CLIENTS} clients in {took:.1f} s ({OPS / took:.0f} ops/s); "
              f"accepted {dict(accepted)}; refused {sum(refused.values())}")
        assert errors == []
        assert sum(accepted.values()) + sum(refused.values()) == OPS
        assert accepted["claim"] > 100 and accepted["verify"] > 10
    finally:
        for s in servers:
            s.stop()

    db = Database(pg_url)
    with db.session() as s:
        audit = Counter(a.action for a in s.exec(select(AuditEntry)).all())
        for kind, action in AUDITED.items():
            assert audit[action] == accepted[kind], kind  # every accepted operation, and only those
        for req in s.exec(select(SurgeRequest)).all():
            claims = s.exec(select(Claim).where(Claim.request_id == req.id)).all()
            live = sum(c.units for c in claims if c.status in LIVE_CLAIM or c.status == ClaimStatus.VERIFIED)
            assert 0 <= req.units_taken == live <= req.units
            assert req.units_verified == sum(c.units_verified for c in claims if c.status == ClaimStatus.VERIFIED)
            replay = 0
            for a in s.exec(select(AuditEntry).where(AuditEntry.request_id == req.id)).all():
                if a.action == "claim.taken":
                    replay += a.units
                elif a.action == "claim.released":
                    replay -= a.units
                elif a.action in ("claim.done", "claim.verified"):
                    replay -= a.detail.get("returned", 0)
            assert replay == req.units_taken
    db.dispose()
