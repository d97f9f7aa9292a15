"""Units never oversubscribe: real threads and OS processes race through `Surge.handle_text` on
SQLite and PostgreSQL, then the rows are checked against each other and against a replay of the
audit log.

Figures are printed (`pytest -s`): threads, processes, operations and seconds taken.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import random
import re
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from handlers.core import Surge
from handlers.roster import load_roster
from handlers.types import Identity, Reply, Tone
from models.db import Database
from models.tables import AuditEntry, Claim, ClaimStatus, Person, RequestStatus, SurgeRequest

ROSTER = Path(__file__).resolve().parents[2] / "examples" / "roster.yml"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
START = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)  # what the `clock` fixture says
PARTNER = "Northwind Surge Partners"
TECHS = [f"Surge Tech {i:02d}" for i in range(1, 25)]
DISPATCHER = "Dana Dispatch"
SEED = 2027
COUNTED = (ClaimStatus.PENDING, ClaimStatus.ACTIVE, ClaimStatus.IN_PROGRESS, ClaimStatus.DONE, ClaimStatus.VERIFIED)
ONLY_LEFT = re.compile(r"^Only (\d+) units? of SR-\d+ (?:is|are) left\.")
FULLY = re.compile(r"^SR-\d+ is fully claimed\.")
OPEN = (RequestStatus.OPEN, RequestStatus.PARTLY_CLAIMED)
CRASHES = ("Something went wrong", "integrity error")
BOTH_BACKENDS = pytest.mark.parametrize("db_url", [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason="TEST_DATABASE_URL is not set")),
], indirect=True)


# -- set-up -----------------------------------------------------------------------------------

def extra_roster() -> str:
    """The example roster plus a vetted partner (paper signature imported) with 24 techs. It lists
    the example's people and channels too: a load deactivates whoever it leaves out."""
    base = yaml.safe_load(ROSTER.read_text())
    return yaml.safe_dump({
        "home": base["home"],
        "partners": base["partners"] + [{"name": PARTNER, "status": "vetted", "skills": ["windows"], "signed": {
            "version": base["agreement"]["version"], "by": "Nora North", "date": "2026-12-01"}}],
        "people": base["people"] + [{"name": t, "org": PARTNER, "roles": ["tech"], "slack": f"U0ST{i:02d}"}
                                    for i, t in enumerate(TECHS, 1)],
        "channels": base["channels"],
        "agreement": base["agreement"],
        "guidelines": base["guidelines"],
    }, sort_keys=False)


@pytest.fixture
def crew(chat, clock):
    """The example roster plus 24 partner techs, each of whom acknowledged the guidelines."""
    assert clock() == START
    changes = load_roster(chat.core.db, extra_roster(), name="extra.yml", now=clock())
    assert any(c.startswith(f"imported signature of {PARTNER}") for c in changes), changes
    for tech in TECHS:
        chat.ok(tech, "guidelines ack")
    return chat


def post(chat, units: int, *, approval: bool = False) -> int:
    reply = chat.ok(DISPATCHER, f'request "DST patch, {units} PCs" units={units} deadline=2027-03-10 pay=35 bill=60 '
                                f'town=Hicksville customer="Acme Dental"' + (" approval=yes" if approval else ""))
    return int(re.search(r"SR-(\d+)", reply.text).group(1))


def say(core: Surge, who: str, text: str) -> Reply:
    return core.handle_text(Identity(platform="console", user_id=who), text)


def race(n: int, fn) -> list:
    """Run fn(0..n-1) in n real threads released together by a barrier; re-raise the first failure."""
    barrier, results, errors = threading.Barrier(n), [None] * n, []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), name=f"race-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


def grab(core: Surge, tech: str, rid: int, wants: list[int]) -> list[tuple[int, str, bool]]:
    """Claim each of `wants` in turn; on "only N left" ask for N, as the refusal suggests; stop when
    the request is fully claimed. Returns (units asked, reply text, taken) per attempt."""
    log = []
    for want in wants:
        while True:
            reply = say(core, tech, f"claim SR-{rid} {want}")
            taken = reply.tone == Tone.SUCCESS and reply.text.startswith("You have ")
            log.append((want, reply.text, taken))
            left = ONLY_LEFT.match(reply.text)
            if taken or not left:
                break
            want = int(left.group(1))
        if FULLY.match(reply.text):
            break
    return log


def check_claim_race(db: Database, rid: int, logs: dict[str, list]) -> tuple[int, int]:
    """The invariants of a pure claim race; returns (attempts, successes)."""
    with db.session() as s:
        req = s.get(SurgeRequest, rid)
        claims = s.exec(select(Claim).where(Claim.request_id == rid)).all()
        taken = s.exec(select(AuditEntry).where(AuditEntry.request_id == rid, AuditEntry.action == "claim.taken")).all()
        ids = {p.name: p.id for p in s.exec(select(Person)).all()}
    attempts = [a for log in logs.values() for a in log]
    won = [want for want, _, ok in attempts if ok]
    for want, text, ok in attempts:  # every refusal is a clear answer about the units left
        left = ONLY_LEFT.match(text)
        assert ok or FULLY.match(text) or (left and 0 < int(left.group(1)) < want), text
    live = sum(c.units for c in claims if c.status in COUNTED)
    assert live == req.units_taken == sum(won) <= req.units
    assert req.units_taken == req.units and req.status == RequestStatus.FULLY_CLAIMED  # demand > supply
    assert len(taken) == len(won) and sorted(a.units for a in taken) == sorted(won)
    assert sum(a.units for a in taken) == req.units_taken
    assert {(c.person_id, c.units) for c in claims} == {
        (ids[tech], sum(w for w, _, ok in log if ok)) for tech, log in logs.items() if any(ok for *_, ok in log)}
    assert len(claims) == len({c.person_id for c in claims}), "one claim per tech"
    return len(attempts), len(won)


# -- 1. threads ------------------------------------------------------------------------------

def test_threads_never_oversubscribe(crew):
    rid = post(crew, 37)  # 24 techs × 2 claims of 1..4 units want 120
    t0 = time.monotonic()
    logs = race(len(TECHS), lambda i: grab(crew.core, TECHS[i], rid, [1 + i % 4] * 2))
    took = time.monotonic() - t0
    attempts, won = check_claim_race(crew.core.db, rid, dict(zip(TECHS, logs, strict=True)))
    print(f"\n[threads {crew.core.db.engine.dialect.name}] {len(TECHS)} threads, {attempts} claims "
          f"({won} taken), {took:.2f}s")


# -- 2. processes ----------------------------------------------------------------------------

def _now() -> datetime:
    return START


def claim_in_process(url: str, techs: list[str], rid: int, barrier, queue) -> None:
    """One OS process: its own Database and Surge; its techs claim from threads once all processes
    are ready."""
    db = Database(url)
    try:
        core = Surge(db, home_timezone="America/New_York", clock=_now)
        assert db.ping()
        barrier.wait(timeout=120)
        logs = race(len(techs), lambda i: grab(core, techs[i], rid, [2 + i % 3] * 2))
        queue.put((os.getpid(), dict(zip(techs, logs, strict=True))))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        queue.put((os.getpid(), repr(exc)))
    finally:
        db.dispose()


@BOTH_BACKENDS
def test_processes_never_oversubscribe(crew, db_url):
    rid = post(crew, 45)  # 24 techs × 2 claims of 2..4 units want 144
    ctx = mp.get_context("spawn")
    n_procs, per = 4, len(TECHS) // 4
    barrier, queue = ctx.Barrier(n_procs), ctx.Queue()
    procs = [ctx.Process(target=claim_in_process, args=(db_url, TECHS[k * per:(k + 1) * per], rid, barrier, queue))
             for k in range(n_procs)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    results = [queue.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    took = time.monotonic() - t0
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    failures = [r for _, r in results if not isinstance(r, dict)]
    assert not failures, failures
    assert len({pid for pid, _ in results}) == n_procs and os.getpid() not in {pid for pid, _ in results}
    logs = {tech: log for _, r in results for tech, log in r.items()}
    attempts, won = check_claim_race(crew.core.db, rid, logs)
    print(f"\n[processes {crew.core.db.engine.dialect.name}] {n_procs} processes × {per} threads, "
          f"{attempts} claims ({won} taken), {took:.2f}s including spawn")


# -- 3. a random mix -------------------------------------------------------------------------

# A successful (tone SUCCESS) reply to each command writes these audit rows.
AUDITED = {"claim": ("claim.taken",), "release": ("claim.released",), "start": ("claim.started",),
           "done": ("claim.done",), "verify": ("claim.verified",), "approve": ("claim.approved",),
           "reject": ("claim.rejected", "claim.sent_back"), "cancel": ("request.cancelled",)}


def test_random_mix_keeps_the_books(crew):
    core, ops_per_tech, n_dispatch = crew.core, 30, 3
    rids = [post(crew, 60), post(crew, 40), post(crew, 20, approval=True), post(crew, 40)]
    doomed = rids[3]  # cancelled by a dispatcher half-way
    busy, lock, stop = [len(TECHS)], threading.Lock(), threading.Event()

    def open_requests() -> list[int]:
        with core.db.session() as s:
            return [r.id for r in s.exec(select(SurgeRequest)).all() if r.units_left and r.status in OPEN]

    def tech(i: int) -> list[tuple[str, Reply]]:
        rng, out, mine = random.Random(SEED * 100 + i), [], set()  # mine: requests it (probably) holds
        try:
            for _ in range(ops_per_tech):
                on_card = open_requests()  # what the partner card shows: requests with units left
                if mine and (rng.random() < 0.5 or not on_card):
                    rid, op = rng.choice(sorted(mine)), rng.choices(["release", "start", "done"], [2, 1, 4])[0]
                else:
                    rid, op = rng.choice(on_card or rids), "claim"
                units = f" {rng.randint(1, 4)}" if op != "start" and rng.random() < 0.7 else ""
                reply = say(core, TECHS[i], f"{op} SR-{rid}{units}")
                out.append((op, reply))
                if op == "claim" and reply.tone == Tone.SUCCESS:
                    mine.add(rid)
                elif op == "done" or (op == "release" and "You keep" not in reply.text):
                    mine.discard(rid)
        finally:
            with lock:
                busy[0] -= 1
                if not busy[0]:
                    stop.set()
        return out

    def dispatcher(k: int) -> list[tuple[str, Reply]]:
        rng, out = random.Random(SEED * 1000 + k), []
        for turn in range(2000):
            if stop.is_set():
                break
            if k == 0 and turn == 8:
                out.append(("cancel", say(core, DISPATCHER, f'cancel SR-{doomed} "customer postponed"')))
            with core.db.session() as s:
                waiting = s.exec(select(Claim, Person).join(Person, Claim.person_id == Person.id)
                                 .where(Claim.status.in_([ClaimStatus.DONE, ClaimStatus.PENDING]))).all()
            if not waiting:
                time.sleep(0.005)
                continue
            c, p = rng.choice(waiting)
            who = f'SR-{c.request_id} "{p.name}"'
            if c.status == ClaimStatus.DONE and rng.random() < 0.8:
                part = f" {rng.randint(1, c.units_done)}" if c.units_done > 1 and rng.random() < 0.3 else ""
                out.append(("verify", say(core, DISPATCHER, f"verify {who}{part}")))
            elif c.status == ClaimStatus.PENDING and rng.random() < 0.7:
                out.append(("approve", say(core, DISPATCHER, f"approve {who}")))
            else:
                out.append(("reject", say(core, DISPATCHER, f'reject {who} "three machines still on the old time"')))
        return out

    t0 = time.monotonic()
    results = race(len(TECHS) + n_dispatch,
                   lambda i: tech(i) if i < len(TECHS) else dispatcher(i - len(TECHS)))
    took = time.monotonic() - t0
    replies = [pair for log in results for pair in log]

    # Every answer is a success or a clear refusal; nothing crashed, no gate was in the way.
    assert not [r.text for _, r in replies if any(c in r.text for c in CRASHES)]
    assert not [r.text for _, r in replies if r.tone == Tone.WARNING]

    cancel = [r for op, r in replies if op == "cancel"]
    cancelled = cancel and cancel[0].tone == Tone.SUCCESS  # unless it was completed first
    assert cancel and (cancelled or "is already completed" in cancel[0].text), [r.text for r in cancel]

    with core.db.session() as s:
        reqs = {r.id: r for r in s.exec(select(SurgeRequest)).all()}
        claims = s.exec(select(Claim)).all()
        audit = s.exec(select(AuditEntry).where(AuditEntry.request_id.is_not(None))).all()
    assert set(reqs) == set(rids)

    # Each successful command left exactly its audit row.
    done_ok = Counter(op for op, r in replies if r.tone == Tone.SUCCESS)
    actions = Counter(a.action for a in audit)
    for op, rows in AUDITED.items():
        assert done_ok[op] == sum(actions[a] for a in rows), (op, done_ok[op], actions)

    # Replay the audit log: units taken per request and per claim, units verified.
    replay_taken, replay_claim, replay_verified = defaultdict(int), defaultdict(int), defaultdict(int)
    for a in audit:
        delta = {"claim.taken": a.units, "claim.released": -(a.units or 0), "claim.cancelled": -(a.units or 0),
                 "claim.rejected": -(a.units or 0), "claim.done": -a.detail.get("returned", 0),
                 "claim.verified": -a.detail.get("returned", 0)}.get(a.action, 0)
        replay_taken[a.request_id] += delta
        if a.claim_id is not None:
            replay_claim[a.claim_id] += delta
        if a.action == "claim.verified":
            replay_verified[a.request_id] += a.units

    for rid, req in reqs.items():
        mine = [c for c in claims if c.request_id == rid]
        assert req.units_taken == sum(c.units for c in mine if c.status in COUNTED), req.ref
        assert req.units_verified == sum(c.units_verified for c in mine if c.status == ClaimStatus.VERIFIED), req.ref
        assert 0 <= req.units_verified <= req.units_taken <= req.units, req.ref
        assert req.units_taken == replay_taken[rid] and req.units_verified == replay_verified[rid], req.ref
        if rid == doomed and cancelled:
            assert req.status == RequestStatus.CANCELLED
            assert not [c for c in mine if c.status in COUNTED and c.status != ClaimStatus.VERIFIED]
        else:
            expected = (RequestStatus.COMPLETED if req.units_verified >= req.units else
                        RequestStatus.FULLY_CLAIMED if req.units_taken >= req.units else
                        RequestStatus.PARTLY_CLAIMED if req.units_taken else RequestStatus.OPEN)
            assert req.status == expected, req.ref
    for c in claims:
        assert replay_claim[c.id] == (c.units if c.status in COUNTED else 0), (c.id, c.status)
        assert c.units > 0 and (c.status != ClaimStatus.DONE or c.units_done == c.units)
    live = Counter((c.person_id, c.request_id) for c in claims if c.status in COUNTED[:-1])
    assert all(n == 1 for n in live.values()), "at most one live claim per tech and request"

    ok = sum(done_ok.values())
    print(f"\n[mix {core.db.engine.dialect.name}] {len(TECHS)} tech + {n_dispatch} dispatcher threads, "
          f"{len(replies)} ops ({ok} succeeded: {dict(done_ok)}), {len(claims)} claims, "
          f"{sum(r.units_verified for r in reqs.values())} units verified, {took:.2f}s")
