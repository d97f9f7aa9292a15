"""Claim arbitration: 32 concurrent claimants, on one request and on 100 requests, through Surge's
core (`Surge.handle_text("claim SR-n 1")` from 32 threads, as 32 roster techs), side by side with
the same writes a claim must make done bare with SQLAlchemy core in one transaction: the conditional
UPDATE of the request, the claim (with its rates), its audit entry and the two outbox rows a claim
writes (the very payloads of a real claim: the claimant's DM and the card update), queued for the
database as Surge's units of work are (the same pool slots; on SQLite, its one writer in turn). For
information, the floor: a raw conditional `UPDATE surge_request SET units_taken = units_taken + 1
WHERE id = :id AND units_taken + 1 <= units` loop from 32 threads on the same database and engine.

The bare transaction and Surge run alternately (bare, Surge, Surge, bare: two rounds each, each on
requests of its own), so a machine that gets busier or quieter during the run weighs on both alike.

Every claimant claims one unit at a time until every request is full (a request refused as full is
dropped by all claimants, as its updated card tells every channel). Then the database is checked:
no request oversubscribed, every request's `units_taken` equal to the sum of its live claims and to
the claims that were accepted. Targets: Surge's rate ≥ 80 % of the same writes done bare; zero
oversubscription; every attempt answered.
"""
from __future__ import annotations

import logging
import random
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    databases,
    header,
    parse_args,
    post_request,
    prepare_core,
    roster_yaml,
    tech_ids,
    verdict,
)

CLAIMANTS = 32


class Errors(logging.Handler):
    """What Surge logged as unexpected errors (an answer says only "something went wrong … E-1234")."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and len(self.seen) < 3:
            self.seen.append(f"{record.exc_info[0].__name__}: {record.exc_info[1]}"[:300])


ERRORS = Errors()
logging.getLogger().addHandler(ERRORS)


@dataclass
class Run:
    taken: int  # accepted claims (one unit each)
    refused: int  # attempts answered "fully claimed" (or, raw: an UPDATE that matched no row)
    failed: int  # anything else: must be 0
    elapsed: float
    samples: list[str]

    @property
    def rate(self) -> float:
        return self.taken / self.elapsed


def race(requests: list[int], attempt) -> Run:
    """32 threads claim one unit at a time, each going round its own shuffled order of the requests
    not yet known to be full, until none is left. A request refused as full is dropped by everyone
    (as the updated card tells every channel). `attempt(worker, request_id)` → "taken" | "full" | error."""
    barrier = threading.Barrier(CLAIMANTS + 1)
    counts = [[0, 0, 0] for _ in range(CLAIMANTS)]
    full: set[int] = set()
    samples: list[str] = []

    def claimant(w: int) -> None:
        rnd = random.Random(w)
        order = list(requests)
        rnd.shuffle(order)
        barrier.wait()
        i = 0
        while True:
            todo = [r for r in order if r not in full]
            if not todo:
                return
            rid = todo[i % len(todo)]
            i += 1
            try:
                outcome = attempt(w, rid)
            except Exception as exc:  # noqa: BLE001 - counted and shown, never a dead claimant
                outcome = f"{type(exc).__name__}: {exc}"[:200]
            if outcome == "taken":
                counts[w][0] += 1
            elif outcome == "full":
                counts[w][1] += 1
                full.add(rid)
            else:
                counts[w][2] += 1
                if len(samples) < 3:
                    samples.append(outcome)
                if counts[w][2] > 100:
                    return

    threads = [threading.Thread(target=claimant, args=(w,)) for w in range(CLAIMANTS)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return Run(sum(c[0] for c in counts), sum(c[1] for c in counts), sum(c[2] for c in counts), elapsed, samples)


def surge_attempt(core, techs: list[str]):
    from handlers.types import Identity

    people = [Identity(platform="slack", user_id=t) for t in techs]

    def attempt(w: int, rid: int) -> str:
        reply = core.handle_text(people[w], f"claim SR-{rid} 1")
        if reply.ok:
            return "taken"
        return "full" if "fully claimed" in reply.text else reply.text[:160]

    return attempt


def raw_attempt(engine):
    from sqlalchemy import text

    stmt = text("UPDATE surge_request SET units_taken = units_taken + :n WHERE id = :id AND units_taken + :n <= units")

    def attempt(_w: int, rid: int) -> str:
        with engine.begin() as conn:
            return "taken" if conn.execute(stmt, {"n": 1, "id": rid}).rowcount == 1 else "full"

    return attempt


def lean_attempt(db, person_orgs: list[tuple[int, int]], payloads: list[tuple[str, dict]]):
    """The same writes as a Surge claim, with nothing around them: the conditional UPDATE, the claim,
    its audit entry and the claim's two outbox rows (`payloads`: kind and payload of a real claim's),
    in one transaction (SQLAlchemy core), queued as the Database queues its units of work."""
    from contextlib import nullcontext

    from sqlalchemy import insert, text

    from models.tables import AuditEntry, Claim, OutboxMessage
    from models.types import utcnow

    take = text("UPDATE surge_request SET units_taken = units_taken + :n, updated_at = :now "
                "WHERE id = :id AND units_taken + :n <= units RETURNING pay_cents, bill_cents")
    claim, audit, outbox = Claim.__table__, AuditEntry.__table__, OutboxMessage.__table__
    engine = db.engine

    def attempt(w: int, rid: int) -> str:
        person, org = person_orgs[w]
        now = utcnow()
        # the Database's own queue: a pool slot each, and SQLite's one writer in turn
        with db._slots, db._writer or nullcontext(), engine.begin() as conn:
            rates = conn.execute(take, {"n": 1, "id": rid, "now": now}).first()
            if rates is None:
                return "full"
            cid = conn.execute(insert(claim).values(
                request_id=rid, person_id=person, org_id=org, units=1, units_done=0, units_verified=0,
                status="active", rework=0, notes="", created_at=now, approved_at=now, pay_cents=rates.pay_cents,
                bill_cents=rates.bill_cents)).inserted_primary_key[0]
            conn.execute(insert(audit).values(at=now, action="claim.taken", actor_id=person, request_id=rid,
                                              claim_id=cid, org_id=org, units=1,
                                              detail={"total": 1, "status": "active"}))
            conn.execute(insert(outbox).returning(outbox.c.id), [
                {"created_at": now, "kind": kind, "payload": payload, "status": "pending", "attempts": 0,
                 "next_attempt_at": now, "last_error": ""} for kind, payload in payloads]).all()
        return "taken"

    return attempt


def claim_payloads(engine) -> list[tuple[str, dict]]:
    """The outbox rows the last claim wrote (its DM to the claimant and its card update), as written."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, payload FROM outbox_message ORDER BY id DESC LIMIT 2")).all()
    return [(kind, payload if isinstance(payload, dict) else __import__("json").loads(payload))
            for kind, payload in reversed(rows)]


def statements_per_claim(core, techs: list[str]) -> tuple[int, int]:
    """SQL statements one claim sends (BEGIN included, COMMIT not): a tech's first claim on a request,
    and a second one that tops it up. Counted on requests of their own, outside the races, after a
    claim elsewhere has filled what the process caches (the current guidelines' texts)."""
    from sqlalchemy import event

    from handlers.types import Identity

    me = Identity(platform="slack", user_id=techs[0])
    warm = post_request(core, units=10, title="Counted claims, warm-up")
    assert core.handle_text(me, f"claim SR-{warm} 1").ok  # fills the per-process caches, as any claim before
    rid = post_request(core, units=10, title="Counted claims")
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    def begin(conn):
        if not core.db.is_sqlite:  # psycopg sends BEGIN itself; SQLite's BEGIN IMMEDIATE is counted above
            sent.append("BEGIN")

    counts = []
    event.listen(core.db.engine, "before_cursor_execute", count)
    event.listen(core.db.engine, "begin", begin)
    try:
        for _ in range(2):
            sent.clear()
            reply = core.handle_text(me, f"claim SR-{rid} 1")
            assert reply.ok, reply.text
            counts.append(len(sent))
    finally:
        event.remove(core.db.engine, "before_cursor_execute", count)
        event.remove(core.db.engine, "begin", begin)
    return counts[0], counts[1]


def person_orgs(engine, techs: list[str]) -> list[tuple[int, int]]:
    from sqlalchemy import text

    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT slack_id, id FROM person")).all())
        orgs = dict(conn.execute(text("SELECT id, org_id FROM person")).all())
    return [(ids[t], orgs[ids[t]]) for t in techs]


def check(engine, requests: list[int], taken: int, *, claims: bool) -> list[str]:
    """What is wrong in the database after a race (empty: nothing)."""
    from sqlalchemy import text

    problems = []
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT r.id, r.units, r.units_taken, COALESCE(SUM(c.units), 0) FROM surge_request r "
            "LEFT JOIN claim c ON c.request_id = r.id AND c.status IN ('pending', 'active', 'in_progress', 'done') "
            "GROUP BY r.id, r.units, r.units_taken"), {}).all()
    by_id = {r[0]: r for r in rows}
    total = 0
    for rid in requests:
        _, units, units_taken, live = by_id[rid]
        total += units_taken
        if units_taken > units:
            problems.append(f"SR-{rid}: {units_taken} taken of {units} (oversubscribed)")
        if claims and live != units_taken:
            problems.append(f"SR-{rid}: live claims hold {live} units, the request says {units_taken}")
        if units_taken != units:
            problems.append(f"SR-{rid}: {units_taken} of {units} taken when every claimant had stopped")
    if total != taken:
        problems.append(f"{taken} claims accepted, {total} units taken in the database")
    return problems


def combined(runs: list[Run]) -> Run:
    """Rounds of one flavour as one run: claims over the time they took together."""
    return Run(sum(r.taken for r in runs), sum(r.refused for r in runs), sum(r.failed for r in runs),
               sum(r.elapsed for r in runs), [s for r in runs for s in r.samples][:3])


def scenario(core, techs: list[str], label: str, count: int, units: int) -> tuple[Run, Run, Run, list[str]]:
    """The raw floor once, then the bare transaction and Surge alternately (bare, Surge, Surge, bare),
    each round on requests of its own of `units // 2` units. Returns (raw, bare, Surge, problems)."""
    engine, half = core.db.engine, units // 2
    raw = [post_request(core, units=units, title=f"Raw {label} {i}") for i in range(count)]
    floor = race(raw, raw_attempt(engine))
    bad = check(engine, raw, floor.taken, claims=False)
    lean = lean_attempt(core.db, person_orgs(engine, techs), claim_payloads(engine))
    surge = surge_attempt(core, techs)
    runs: dict[str, list[Run]] = {"bare": [], "surge": []}
    for k, who in enumerate(("bare", "surge", "surge", "bare")):
        ids = [post_request(core, units=half, title=f"{who} {label} {k}.{i}") for i in range(count)]
        run = race(ids, lean if who == "bare" else surge)
        bad += check(engine, ids, run.taken, claims=True)
        runs[who].append(run)
    return floor, combined(runs["bare"]), combined(runs["surge"]), bad


def main() -> int:
    args = parse_args(__doc__.split("\n")[0])
    header("claim arbitration: 32 concurrent claimants, Surge's core vs the same writes done bare", args)
    units_one = 160 if args.quick else 3200
    per_request = 4 if args.quick else 32
    print(f"one request of {units_one} units; 100 requests of {per_request} units (bare and Surge: two rounds of "
          f"half as many units each, alternately); {CLAIMANTS} claimants claiming 1 unit at a time until all are full")
    techs = tech_ids(CLAIMANTS)
    ok = True
    for db_name, cm in databases(args, "claims"):
        with cm as url:
            core = prepare_core(url, roster_yaml(techs=CLAIMANTS), acknowledge=techs)
            print(f"-- {db_name}")
            first, again = statements_per_claim(core, techs)
            print(f"      a claim sends {first} SQL statements (a top-up of one's own claim: {again}), "
                  "BEGIN included, COMMIT not")
            for label, count, units in (("1 request", 1, units_one), ("100 requests", 100, per_request)):
                floor, lean, got, bad = scenario(core, techs, label, count, units)
                for run, who in ((floor, "raw UPDATE"), (lean, "same writes, bare"), (got, "Surge core")):
                    print(f"{label:>13} · {who:<17} {run.taken:>5} claims in {run.elapsed:6.2f} s = "
                          f"{run.rate:8.1f} claims/s  ({run.refused} refused as full, {run.failed} failed)")
                    for s in run.samples:
                        print(f"      failure: {s}")
                for line in ERRORS.seen:
                    print(f"      logged: {line}")
                ERRORS.seen.clear()
                share, raw_share = got.rate / lean.rate, got.rate / floor.rate
                print(f"      Surge = {share:.1%} of the same writes done bare (request, claim, audit, 2 outbox rows); "
                      f"for information, {raw_share:.1%} of the raw UPDATE rate")
                ok &= verdict(f"{db_name}, {label}: Surge ≥ 80 % of the same writes done bare", share >= 0.8,
                              f"{share:.1%}")
                ok &= verdict(f"{db_name}, {label}: zero oversubscription, counts consistent", not bad,
                              "; ".join(bad[:3]) or "0 oversubscribed, units_taken = Σ live claims = accepted")
                failed = got.failed + lean.failed + floor.failed
                ok &= verdict(f"{db_name}, {label}: every attempt answered (taken or refused as full), no errors",
                              not failed, f"{failed} errors")
                if bad:
                    raise SystemExit(f"{db_name}, {label}: the database is wrong")
            core.db.dispose()
    print("all targets met" if ok else "some targets MISSED (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
