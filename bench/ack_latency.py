"""Ack latency: signed `/surge` slash commands (help, list, claim) at concurrency 50 against Surge's
real server (compose() + build_server(), Slack on, the outbox sending to a fake Slack) on SQLite and
on PostgreSQL, side by side with a bare Bolt AsyncApp on aiohttp whose only listener acks.

Each server runs in a process of its own; the client (aiohttp, a semaphore of 50) is this process.
Targets: Surge's p50 ≤ 1.5× and p99 ≤ 2× the bare app's, and its slowest ack far from Slack's 3 s.
The clients are closed loops on the answer (Surge answers in the ack, or acks first under load and
answers through response_url, served by this process), so the time to the answer is reported too.
"""
from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    Load, cpu_seconds, header, parse_args, percentile, post_request, prepare_core, roster_yaml, serve, slash_load, tech_ids,
    verdict, databases,
)

CONCURRENCY = 50
TECHS = 32
DISPATCHER = "U0DISPATCH"
SLOWEST_OK = 1.5  # seconds: half of Slack's 3 s
RATE = 20  # commands a second in the steady (open-loop) run: a busy morning of a big surge


def workload(n: int, requests: list[int], seed: int) -> list[tuple[str, str]]:
    """n commands, a third each of help, list and `claim SR-x 1`, shuffled."""
    rnd = random.Random(seed)
    techs = tech_ids(TECHS)
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            out.append((rnd.choice(techs + [DISPATCHER]), "help"))
        elif kind == 1:
            out.append((rnd.choice(techs + [DISPATCHER]), "list"))
        else:
            out.append((rnd.choice(techs), f"claim SR-{rnd.choice(requests)} 1"))
    rnd.shuffle(out)
    return out


def run_load(server, commands, warmup, steady, *, answers: bool) -> tuple[Load, float, Load]:
    """The warm-up, a steady open-loop load (RATE commands a second), then the measured
    concurrency-50 load; returns it, the server's CPU time per command in it, and the steady load.
    `answers`: each client waits for its command's answer (in the ack or through response_url)."""
    url = server.url + "/slack/events"
    asyncio.run(slash_load(url, warmup, concurrency=CONCURRENCY, start_n=10**6, answers=answers))
    calm = asyncio.run(slash_load(url, steady, concurrency=1000, rate=RATE, start_n=2 * 10**6, answers=answers))
    before = cpu_seconds(server.pid)
    load = asyncio.run(slash_load(url, commands, concurrency=CONCURRENCY, answers=answers))
    return load, (cpu_seconds(server.pid) - before) / len(commands), calm


def claimed_units(db_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT COALESCE(SUM(units_taken), 0) FROM surge_request")).scalar()
    engine.dispose()
    return int(total)


def main() -> int:
    args = parse_args(__doc__.split("\n")[0])
    header("ack latency: /surge help|list|claim at concurrency 50, Surge vs a bare Bolt app", args)
    n = 300 if args.quick else 3000
    warm = 60 if args.quick else 150
    seconds = 3 if args.quick else 15
    print(f"{n} measured commands per server at concurrency {CONCURRENCY} (after {warm} warm-up and "
          f"{RATE * seconds} at a steady {RATE}/s), {TECHS} techs")
    ok = True
    with serve("fake") as fake:
        api = fake.url + "/api/"
        for db_name, cm in databases(args, "ack"):
            with cm as db_url:
                core = prepare_core(db_url, roster_yaml(techs=TECHS), acknowledge=tech_ids(TECHS))
                requests = [post_request(core, units=1_000_000, title=f"Bench {i}") for i in range(5)]
                core.db.dispose()
                commands, warmup = workload(n, requests, 1), workload(warm, requests, 2)
                steady = workload(RATE * seconds, requests, 3)
                with serve("bare", slack_api=api) as bare:
                    base, base_cpu, base_calm = run_load(bare, commands, warmup, steady, answers=False)
                with serve("surge", db=db_url, slack_api=api) as surge:
                    got, got_cpu, calm = run_load(surge, commands, warmup, steady, answers=True)
                claims_sent = sum(1 for _, t in commands + warmup + steady if t.startswith("claim"))
                taken = claimed_units(db_url)
            print(f"-- {db_name}")
            print(f"   steady {RATE}/s (open loop):")
            print(base_calm.line("bare Bolt app (ack only)"))
            print(calm.line(f"Surge on {db_name}"))
            print(f"   ratio Surge/bare at {RATE}/s: p50 {percentile(calm.latencies, 50) / percentile(base_calm.latencies, 50):.2f}×, "
                  f"p99 {percentile(calm.latencies, 99) / percentile(base_calm.latencies, 99):.2f}× (for information)")
            print(f"   concurrency {CONCURRENCY} (closed loop: each client sends its next command once it has "
                  f"the answer; the bare app's answer is its ack):")
            print(base.line("bare Bolt app (ack only)"))
            print(got.line(f"Surge on {db_name}, acks"))
            print(f"{'Surge, answers':<28} n={len(got.answers):>5}  p50 {percentile(got.answers, 50) * 1000:7.1f} ms  "
                  f"p99 {percentile(got.answers, 99) * 1000:7.1f} ms  max {max(got.answers, default=0) * 1000:7.1f} ms  "
                  f"(in the ack, or through response_url when the ack went first)")
            for load in (base, got, base_calm, calm):
                for line in load.bad:
                    print(f"   error: {line}")
            print(f"   server CPU per command: bare {base_cpu * 1000:.2f} ms, Surge {got_cpu * 1000:.2f} ms "
                  f"(Surge's includes its outbox delivering the claims' DMs and card updates)")
            print(f"   claims sent {claims_sent}, units taken in the database {taken}")
            r50 = percentile(got.latencies, 50) / percentile(base.latencies, 50)
            r99 = percentile(got.latencies, 99) / percentile(base.latencies, 99)
            print(f"   ratio Surge/bare: p50 {r50:.2f}×, p99 {r99:.2f}×, throughput "
                  f"{got.throughput / base.throughput:.2f}×")
            ok &= verdict(f"{db_name} p50 ≤ 1.5× bare", r50 <= 1.5, f"{r50:.2f}×")
            ok &= verdict(f"{db_name} p99 ≤ 2× bare", r99 <= 2.0, f"{r99:.2f}×")
            slowest = max(got.latencies, default=float("inf"))
            ok &= verdict(f"{db_name} slowest ack ≤ {SLOWEST_OK} s (Slack allows 3 s)", slowest <= SLOWEST_OK,
                          f"{slowest * 1000:.0f} ms")
            failed = got.errors + base.errors + calm.errors + base_calm.errors
            ok &= verdict(f"{db_name} every command acked (a 404 is Bolt giving up after 3 s without an ack)",
                          not failed, f"{failed} failed")
            if taken != claims_sent:
                raise SystemExit(f"{db_name}: {taken} units taken for {claims_sent} claims")
    print("all targets met" if ok else "some targets MISSED (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
