"""Ack latency: signed `/surge` slash commands against Surge's real server (compose() + build_server(),
Slack on, the outbox sending to a fake Slack) on SQLite and on PostgreSQL, side by side with a bare
Bolt AsyncApp on aiohttp whose only listener acks. Both servers run at once, each in a process of its
own, and are measured in turn (bare, Surge, bare, Surge … with `--repeats`), so the machine's load
falls on both alike; the client (aiohttp) is this process and serves the `response_url`s.

Modes (`--modes`, all by default):
- saturation: `help`, then `list`, then `status SR-n`, N each, 50 in flight; each client sends its
  next command as soon as it has the ack; the answers still come through `response_url` and are timed.
- open: each of the three at a steady rate (50, 100, 200 commands a second), whatever the answers.
- mixed: help, list and `claim SR-x 1` (a third each), each client waiting for its answer, after a
  steady 20/s (the figures of the earlier rounds); the units taken are checked against the claims sent.
Targets, for every read command and rate: Surge's ack p50 ≤ 1.5× and p99 ≤ 2× the bare app's, every
answer delivered (answer p99 printed; Slack allows 30 minutes on a `response_url`).
"""
from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    Load,
    cpu_seconds,
    databases,
    header,
    parse_args,
    percentile,
    post_request,
    prepare_core,
    roster_yaml,
    serve,
    slash_load,
    tech_ids,
    verdict,
)

CONCURRENCY = 50
TECHS = 32
DISPATCHER = "U0DISPATCH"
SLOWEST_OK = 1.5  # seconds: half of Slack's 3 s
RATE = 20  # commands a second in the mixed mode's steady run
READS = ("help", "list", "status")
P50_MAX, P99_MAX = 1.5, 2.0


def options(parser) -> None:
    parser.add_argument("--modes", default="saturation,open,mixed", help="comma-separated: saturation,open,mixed")
    parser.add_argument("--repeats", type=int, default=None, help="bare/Surge alternations per figure")
    parser.add_argument("--rates", default="50,100,200", help="open loop: commands a second")
    parser.add_argument("--core-workers", type=int, default=None, help="Surge's core threads (to measure)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="Surge's GIL switch interval in s (to measure; 0: Python's default)")


def reads(kind: str, n: int, requests: list[int], seed: int) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    users = tech_ids(TECHS) + [DISPATCHER]
    return [(rnd.choice(users), f"status SR-{rnd.choice(requests)}" if kind == "status" else kind) for _ in range(n)]


def mixed(n: int, requests: list[int], seed: int) -> list[tuple[str, str]]:
    """n commands, a third each of help, list and `claim SR-x 1`, shuffled."""
    rnd = random.Random(seed)
    techs = tech_ids(TECHS)
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 2:
            out.append((rnd.choice(techs), f"claim SR-{rnd.choice(requests)} 1"))
        else:
            out.append((rnd.choice(techs + [DISPATCHER]), "help" if kind == 0 else "list"))
    rnd.shuffle(out)
    return out


class Pair:
    """The bare app and Surge, measured in turn on the same commands; figures pooled over the repeats."""

    def __init__(self, bare, surge, repeats: int):
        self.bare, self.surge, self.repeats, self.n = bare, surge, repeats, 3 * 10**6

    def run(self, commands, **kw) -> tuple[Load, Load, list[tuple[float, float]]]:
        pooled = {"bare": Load([], 0, 0.0, []), "surge": Load([], 0, 0.0, [])}
        ratios = []
        for _ in range(self.repeats):
            got = {}
            for name, server in (("bare", self.bare), ("surge", self.surge)):
                self.n += 10**5
                got[name] = asyncio.run(slash_load(server.url + "/slack/events", commands, start_n=self.n,
                                                   answers=name == "surge", hold=False, **kw))
                into = pooled[name]
                into.latencies += got[name].latencies
                into.answers += got[name].answers
                into.errors += got[name].errors
                into.lost += got[name].lost
                into.elapsed += got[name].elapsed
                into.bad += got[name].bad[:3 - len(into.bad)]
            ratios.append(ratio(got["surge"], got["bare"]))
        return pooled["bare"], pooled["surge"], ratios


def ratio(got: Load, base: Load) -> tuple[float, float]:
    return (percentile(got.latencies, 50) / percentile(base.latencies, 50),
            percentile(got.latencies, 99) / percentile(base.latencies, 99))


def report(db: str, what: str, base: Load, got: Load, ratios: list[tuple[float, float]]) -> bool:
    print(f"   {what}")
    print(base.line("bare Bolt app (ack only)"))
    print(got.line(f"Surge on {db}, acks"))
    sent = len(got.latencies)
    print(f"{'Surge, answers':<28} n={len(got.answers):>5}  p50 {percentile(got.answers, 50) * 1000:7.1f} ms  "
          f"p99 {percentile(got.answers, 99) * 1000:7.1f} ms  max {max(got.answers, default=0) * 1000:7.1f} ms  "
          f"(through response_url; {sent - len(got.answers)} of {sent} not delivered)")
    for line in base.bad + got.bad:
        print(f"   error: {line}")
    r50, r99 = ratio(got, base)
    spread = ""
    if len(ratios) > 1:
        spread = (f" (each alternation: p50 {min(r[0] for r in ratios):.2f}–{max(r[0] for r in ratios):.2f}×, "
                  f"p99 {min(r[1] for r in ratios):.2f}–{max(r[1] for r in ratios):.2f}×)")
    print(f"   ratio Surge/bare: p50 {r50:.2f}×, p99 {r99:.2f}×{spread}")
    ok = verdict(f"{db} {what}: p50 ≤ {P50_MAX}× bare", r50 <= P50_MAX, f"{r50:.2f}×")
    ok &= verdict(f"{db} {what}: p99 ≤ {P99_MAX}× bare", r99 <= P99_MAX, f"{r99:.2f}×")
    failed = got.errors + base.errors + got.lost + (sent - len(got.answers) - got.lost)
    ok &= verdict(f"{db} {what}: every command acked and answered", not failed,
                  f"{failed} failed, slowest answer {max(got.answers, default=0):.1f} s")
    return ok


def saturation(db: str, pair: Pair, n: int, requests: list[int]) -> bool:
    ok = True
    for seed, kind in enumerate(READS):
        base, got, ratios = pair.run(reads(kind, n, requests, 10 + seed), concurrency=CONCURRENCY)
        ok &= report(db, f"saturation, {n} `{kind}` × {pair.repeats}, {CONCURRENCY} in flight (next on the ack)",
                     base, got, ratios)
    return ok


def open_loop(db: str, pair: Pair, rates: list[int], seconds: float, requests: list[int]) -> bool:
    ok = True
    for seed, kind in enumerate(READS):
        for rate in rates:
            commands = reads(kind, int(rate * seconds), requests, 20 + seed)
            base, got, ratios = pair.run(commands, concurrency=10_000, rate=rate)
            ok &= report(db, f"open loop, `{kind}` at {rate}/s for {seconds:g} s × {pair.repeats}", base, got, ratios)
    return ok


def mixed_mode(db: str, db_url: str, bare, surge, n: int, seconds: int, requests: list[int]) -> bool:
    """The earlier rounds' figure: a steady RATE/s, then n mixed commands at concurrency 50, each
    client waiting for its answer; claims included, checked against the database."""
    commands, steady = mixed(n, requests, 1), mixed(RATE * seconds, requests, 3)
    loads = {}
    for name, server in (("bare", bare), ("surge", surge)):
        url, answers = server.url + "/slack/events", name == "surge"
        calm = asyncio.run(slash_load(url, steady, concurrency=1000, rate=RATE, start_n=2 * 10**6, answers=answers))
        before = cpu_seconds(server.pid)
        load = asyncio.run(slash_load(url, commands, concurrency=CONCURRENCY, answers=answers))
        loads[name] = (load, (cpu_seconds(server.pid) - before) / len(commands), calm)
    (base, base_cpu, base_calm), (got, got_cpu, calm) = loads["bare"], loads["surge"]
    print(f"   mixed help|list|claim: a steady {RATE}/s (open loop), for information:")
    print(base_calm.line("bare Bolt app (ack only)"))
    print(calm.line(f"Surge on {db}"))
    ok = report(db, f"mixed help|list|claim, {n} at concurrency {CONCURRENCY} (next on the answer)", base, got, [])
    print(f"   server CPU per command: bare {base_cpu * 1000:.2f} ms, Surge {got_cpu * 1000:.2f} ms "
          f"(Surge's includes its outbox delivering the claims' DMs and card updates)")
    slowest = max(got.latencies, default=float("inf"))
    ok &= verdict(f"{db} slowest ack ≤ {SLOWEST_OK} s (Slack allows 3 s)", slowest <= SLOWEST_OK,
                  f"{slowest * 1000:.0f} ms")
    claims_sent = sum(1 for _, t in commands + steady if t.startswith("claim"))
    taken = claimed_units(db_url) - len(requests) * 8  # the setup's claims
    print(f"   claims sent {claims_sent}, units taken in the database {taken}")
    if taken != claims_sent:
        raise SystemExit(f"{db}: {taken} units taken for {claims_sent} claims")
    return ok


def claimed_units(db_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT COALESCE(SUM(units_taken), 0) FROM surge_request")).scalar()
    engine.dispose()
    return int(total)


def setup(db_url: str) -> list[int]:
    """The roster, 5 big requests, and 8 techs' claims on each (so `status` shows claims)."""
    from handlers.types import Identity

    core = prepare_core(db_url, roster_yaml(techs=TECHS), acknowledge=tech_ids(TECHS))
    requests = [post_request(core, units=1_000_000, title=f"Bench {i}") for i in range(5)]
    for sr in requests:
        for tech in tech_ids(8):
            assert core.handle_text(Identity(platform="slack", user_id=tech), f"claim SR-{sr} 1").ok
    core.db.dispose()
    return requests


def main() -> int:
    args = parse_args(__doc__.split("\n")[0], options)
    modes = set(args.modes.split(","))
    repeats = args.repeats or (1 if args.quick else 2)
    rates = [int(r) for r in args.rates.split(",")]
    n_sat, seconds = (150, 0.5) if args.quick else (600, 3.0)
    n_mixed, warm = (150, 60) if args.quick else (1500, 150)
    header("ack latency: /surge help, list, status (and claim) — Surge vs a bare Bolt app that only acks", args)
    extra = []
    if args.core_workers is not None:
        extra += ["--core-workers", str(args.core_workers)]
    if args.switch_interval is not None:
        extra += ["--switch-interval", str(args.switch_interval)]
    print(f"modes {sorted(modes)}, {repeats} alternation(s) bare/Surge per figure, {TECHS} techs"
          + (f", Surge with {' '.join(extra)}" if extra else ""))
    ok = True
    with serve("fake") as fake:
        api = fake.url + "/api/"
        for db_name, cm in databases(args, "ack"):
            with cm as db_url:
                requests = setup(db_url)
                with serve("bare", slack_api=api) as bare, serve("surge", db=db_url, slack_api=api, extra=extra) as surge:
                    pair = Pair(bare, surge, repeats)
                    pair.run(reads("help", warm, requests, 2) + reads("status", warm, requests, 3),
                             concurrency=CONCURRENCY)  # warm-up, not counted
                    print(f"-- {db_name}")
                    if "saturation" in modes:
                        ok &= saturation(db_name, pair, n_sat, requests)
                    if "open" in modes:
                        ok &= open_loop(db_name, pair, rates, seconds, requests)
                    if "mixed" in modes:
                        ok &= mixed_mode(db_name, db_url, bare, surge, n_mixed, 3 if args.quick else 10, requests)
    print("all targets met" if ok else "some targets MISSED (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
