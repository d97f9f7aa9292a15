"""Digest at scale: `handlers.digest.build_digest` for one manager, over 10,000 requests, 100,000
claims, 500 partners and 20 managers, then 2× and 4× that (`--quick`: 1/20 of it), on SQLite and
PostgreSQL. Time per digest (the median of 8 managers' digests) and its peak memory
(tracemalloc, in a separate pass), side by side with the raw SQL it is built on: the very statements
a digest sends, captured and replayed on the bare DB-API cursor (no ORM, no Python around them).
Also every manager's digest as one clock tick sends them, sharing the figures that do not depend on
the manager (`handlers.digest.SharedFigures`).

The rows are inserted in bulk with SQLAlchemy core into the models' tables, consistently: every
request's `units_taken` is the sum of its live and verified claims, `units_verified` of its verified
ones; every claim has its audit entries (taken, done, verified, released) at its own times.
Target: growth linear or better (4× the data: ≤ 4× the time and the memory).
"""
from __future__ import annotations

import gc
import random
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import databases, header, parse_args, pg_db, sqlite_db, verdict  # noqa: E402

NOW = datetime(2027, 3, 15, 13, 0, tzinfo=UTC)
ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London"]
STATUSES = [("verified", 40), ("done", 10), ("in_progress", 10), ("active", 20), ("released", 10), ("pending", 5),
            ("cancelled", 5)]
SLACK = 1.10  # 10 % allowance for timing noise in "linear or better"
TIMED = 8  # digests timed per size (the median is reported; the managers' time zones alternate)


def generate(requests: int, claims: int, partners: int, managers: int, seed: int = 7) -> dict[str, list[dict]]:
    """Rows for every table a digest reads, consistent with each other."""
    rnd = random.Random(seed)
    rows: dict[str, list[dict]] = {k: [] for k in (
        "org", "person", "agreement_version", "signature", "surge_request", "claim", "audit_entry", "problem", "lead")}
    rows["org"].append({"id": 1, "name": "Home IT", "kind": "home", "status": "vetted", "skills": [],
                        "timezone": "America/New_York"})
    for i in range(partners):
        rows["org"].append({"id": 2 + i, "name": f"Partner {i:05d}", "kind": "partner", "skills": ["windows"],
                            "status": "vetted" if i % 10 else "pending", "timezone": None})
    pid = 0

    def person(name, org, roles, tz=None):
        nonlocal pid
        pid += 1
        rows["person"].append({"id": pid, "name": name, "org_id": org, "roles": roles, "slack_id": f"U{pid:07d}",
                               "teams_id": None, "timezone": tz})
        return pid

    manager_ids = [person(f"Manager {i:03d}", 1, ["manager"], ZONES[i % len(ZONES)]) for i in range(managers)]
    dispatcher = person("Dispatcher", 1, ["dispatcher"])
    techs = [(person(f"Tech {o:05d}-{k}", 2 + o, ["tech"]), 2 + o) for o in range(partners) for k in range(2)]
    rows["agreement_version"].append({"id": 1, "version": "1", "title": "NSA", "text": "x" * 200, "text_hash": "h",
                                      "term_months": 12, "is_current": True, "created_at": NOW - timedelta(days=400)})
    for i in range(partners):
        if i % 7 == 0:
            continue  # never signed
        expires = NOW + timedelta(days=rnd.choice([-20, 10, 200, 300]))
        rows["signature"].append({"org_id": 2 + i, "agreement_id": 1, "signer_id": None, "typed_name": "Signer",
                                  "signed_at": expires - timedelta(days=365), "expires_at": expires, "text_hash": "h",
                                  "method": "imported"})
    status_pool = [s for s, w in STATUSES for _ in range(w)]
    per_request = [claims // requests + (1 if r < claims % requests else 0) for r in range(requests)]
    claim_id = 0
    for r in range(requests):
        rid = r + 1
        created = NOW - timedelta(days=rnd.uniform(0, 60))
        deadline = created + timedelta(days=rnd.uniform(1, 45))
        cancelled = rnd.random() < 0.03
        taken = verified_units = 0
        for _ in range(per_request[r]):
            claim_id += 1
            who, org = rnd.choice(techs)
            status = "cancelled" if cancelled else rnd.choice(status_pool)
            units = rnd.randint(1, 3)
            at = created + timedelta(hours=rnd.uniform(0, 24 * 10))
            done_at = at + timedelta(hours=rnd.uniform(2, 72)) if status in ("done", "verified") else None
            verified_at = done_at + timedelta(hours=rnd.uniform(1, 48)) if status == "verified" else None
            rows["claim"].append({
                "id": claim_id, "request_id": rid, "person_id": who, "org_id": org, "units": units,
                "units_done": units if done_at else 0, "units_verified": units if verified_at else 0, "status": status,
                "rework": 1 if rnd.random() < 0.03 else 0, "notes": "", "created_at": at, "approved_at": at,
                "started_at": at if status in ("in_progress", "done", "verified") else None, "done_at": done_at,
                "verified_at": verified_at,
                "closed_at": verified_at or (at + timedelta(hours=5) if status in ("released", "cancelled") else None)})
            audit = rows["audit_entry"]
            audit.append({"at": at, "action": "claim.taken", "actor_id": who, "request_id": rid, "claim_id": claim_id,
                          "org_id": org, "units": units, "detail": {}})
            if done_at:
                audit.append({"at": done_at, "action": "claim.done", "actor_id": who, "request_id": rid,
                              "claim_id": claim_id, "org_id": org, "units": units, "detail": {}})
            if verified_at:
                audit.append({"at": verified_at, "action": "claim.verified", "actor_id": dispatcher, "request_id": rid,
                              "claim_id": claim_id, "org_id": org, "units": units, "detail": {}})
            if status == "released":
                audit.append({"at": at + timedelta(hours=5), "action": "claim.released", "actor_id": who,
                              "request_id": rid, "claim_id": claim_id, "org_id": org, "units": units, "detail": {}})
            if status in ("pending", "active", "in_progress", "done", "verified"):
                taken += units
            verified_units += units if verified_at else 0
            if rnd.random() < 0.01:
                rows["problem"].append({"request_id": rid, "person_id": who, "org_id": org, "text": "UPS alarm",
                                        "at": at + timedelta(hours=3)})
            if rnd.random() < 0.01:
                rows["lead"].append({"request_id": rid, "person_id": who, "org_id": org, "text": "more laptops",
                                     "at": at + timedelta(hours=4)})
        units = taken + rnd.choice([0, 0, 0, 5, 20])
        units = max(units, 1)
        status = ("cancelled" if cancelled else "completed" if verified_units >= units
                  else "fully_claimed" if taken >= units else "partly_claimed" if taken else "open")
        rows["surge_request"].append({
            "id": rid, "title": f"Request {rid}", "scope": "", "skills": ["windows"], "units": units,
            "units_taken": taken, "units_verified": verified_units, "minutes_per_unit": 30,
            "pay_cents": 3500, "bill_cents": 6000, "window_start": None, "deadline": deadline, "customer": "Acme",
            "site": "1 Main St", "contact": "Ann", "town": "Hicksville", "approval_required": False, "tier": 1,
            "visible_tier": 1, "tier_delay_minutes": 30, "status": status, "status_reason": "",
            "created_by_id": dispatcher, "created_at": created, "updated_at": created})
        rows["audit_entry"].append({"at": created, "action": "request.posted", "actor_id": dispatcher,
                                    "request_id": rid, "claim_id": None, "org_id": None, "units": units, "detail": {}})
    return rows | {"_managers": manager_ids}


def load(url: str, rows: dict) -> None:
    """Migrate, then insert every row in bulk (SQLAlchemy core, 5,000 a statement batch)."""
    from sqlalchemy import text

    from models.db import Database
    from models.tables import SQLModel

    db = Database(url)
    db.upgrade()
    tables = SQLModel.metadata.tables
    with db.engine.begin() as conn:
        for name in ("org", "person", "agreement_version", "signature", "surge_request", "claim", "audit_entry",
                     "problem", "lead"):
            data = rows[name]
            for i in range(0, len(data), 5000):
                conn.execute(tables[name].insert(), data[i:i + 5000])
        if not db.is_sqlite:  # the sequences, past the ids given explicitly
            for name in ("org", "person", "agreement_version", "surge_request", "claim"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT MAX(id) FROM {name}))"))
    if not db.is_sqlite:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))  # what autovacuum would have done after such a load
    db.dispose()


def measure(url: str, managers: list[int]) -> dict:
    """Median time per digest over every manager, the raw replay of the same SQL, and the peak memory."""
    from sqlalchemy import event
    from sqlmodel import Session

    from handlers.digest import SharedFigures, build_digest, manager_zone
    from models.db import Database

    db = Database(url)
    days = {}
    with Session(db.engine) as s:
        for m in managers:
            from zoneinfo import ZoneInfo

            days[m] = NOW.astimezone(ZoneInfo(manager_zone(s, m)[1])).date()
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    def digest(m: int, session: Session, shared=None):
        return build_digest(session=session, manager_id=m, day=days[m], now=NOW, shared=shared)

    with Session(db.engine) as s:  # warm-up: compiled-statement cache, pool, and the OS page cache
        first = digest(managers[0], s)
    times = []
    sample = managers[:: max(1, len(managers) // TIMED)][:TIMED]  # every time zone, at most TIMED digests
    for m in sample:
        with Session(db.engine) as s:
            start = time.perf_counter()
            digest(m, s)
            times.append(time.perf_counter() - start)
    # every manager's digest in one clock tick, as the scheduler sends them: each in a unit of work
    # of its own, the figures that do not depend on the manager computed once (`SharedFigures`)
    shared = SharedFigures()
    start = time.perf_counter()
    for m in managers:
        with Session(db.engine) as s:
            digest(m, s, shared)
    tick = time.perf_counter() - start
    event.listen(db.engine, "before_cursor_execute", capture)
    with Session(db.engine) as s:
        digest(managers[0], s)
    event.remove(db.engine, "before_cursor_execute", capture)
    raw_times = []
    for _ in range(5):
        conn = db.engine.raw_connection()
        try:
            cur = conn.cursor()
            start = time.perf_counter()
            for statement, parameters in captured:
                cur.execute(statement, parameters)
                cur.fetchall()
            raw_times.append(time.perf_counter() - start)
            conn.rollback()
        finally:
            conn.close()
    gc.collect()
    tracemalloc.start()
    with Session(db.engine) as s:
        digest(managers[0], s)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    db.dispose()
    return {"digest": statistics.median(times), "all": statistics.median(times) * len(managers), "tick": tick,
            "raw": statistics.median(raw_times),
            "peak": peak, "statements": len(captured), "partners": len(first.partners), "glance": first.glance}


def main() -> int:
    args = parse_args(__doc__.split("\n")[0])
    header("digest at scale: build_digest at 1×, 2×, 4×, next to the raw SQL it sends", args)
    base = (500, 5_000, 25, 4) if args.quick else (10_000, 100_000, 500, 20)
    print(f"1× = {base[0]:,} requests, {base[1]:,} claims, {base[2]:,} partners, {base[3]:,} managers")
    ok = True
    for db_name, _cm in databases(args, "digest"):
        print(f"-- {db_name}")
        results = {}
        for k in (1, 2, 4):
            rows = generate(*(n * k for n in base))
            managers = rows.pop("_managers")
            counts = {n: len(v) for n, v in rows.items()}
            cm = sqlite_db(f"digest{k}") if db_name == "SQLite" else pg_db(args.pg_url, f"digest{k}")
            with cm as url:
                start = time.perf_counter()
                load(url, rows)
                loaded = time.perf_counter() - start
                del rows
                gc.collect()
                r = results[k] = measure(url, managers)
            print(f"{k}×: {counts['surge_request']:>6,} requests {counts['claim']:>7,} claims "
                  f"{counts['audit_entry']:>7,} audit rows {counts['org'] - 1:>5,} partners {len(managers):>3} managers "
                  f"(loaded in {loaded:.1f} s)")
            print(f"    digest {r['digest'] * 1000:8.1f} ms per manager (all {len(managers)}: {r['all']:.2f} s one by one, "
                  f"{r['tick']:.2f} s in one tick sharing the org-wide figures)  "
                  f"raw SQL {r['raw'] * 1000:8.1f} ms ({r['statements']} statements)  "
                  f"digest/raw {r['digest'] / r['raw']:.2f}×  peak memory {r['peak'] / 2**20:6.1f} MiB")
        for k in (2, 4):
            t, raw, mem, tick = (results[k][x] / results[1][x] for x in ("digest", "raw", "peak", "tick"))
            print(f"    growth 1×→{k}×: digest time {t:.2f}×, raw SQL time {raw:.2f}×, peak memory {mem:.2f}×, "
                  f"one tick of {k}× the managers {tick:.2f}×")
            ok &= verdict(f"{db_name} digest time at {k}× the data ≤ {k}× (linear or better)", t <= k * SLACK,
                          f"{t:.2f}×")
            ok &= verdict(f"{db_name} digest peak memory at {k}× the data ≤ {k}×", mem <= k * SLACK, f"{mem:.2f}×")
    print("all targets met" if ok else "some targets MISSED (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
