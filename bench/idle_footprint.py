"""Idle footprint: the resident memory (RSS) of `surge serve` itself (`python -m bot.main serve
--no-scheduler`, on a temporary SQLite database with the example roster, Slack on against a fake
Slack) after start, after 10,000 requests (half `GET /healthz`, half signed `/surge help`), and after
10,000 more: a server whose memory keeps growing with the requests it has answered is leaking.

No numeric target in the issue; this prints the figures, and flags growth in the second 10,000.
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    ROOT,
    SECRET,
    TOKEN,
    Process,
    free_port,
    header,
    parse_args,
    rss_mib,
    serve,
    signed_headers,
    slash_body,
    sqlite_db,
    verdict,
)

USERS = ["U0TOM", "U0DANA", "U0PAULA", "U0MORGAN", "U0STRANGER"]
CONCURRENCY = 10
LEAK_MIB = 5.0  # more than this in the second batch of requests counts as growth


async def hammer(base: str, n: int, start: int, respond: str) -> tuple[int, float]:
    """n requests, half GET /healthz and half signed /surge help, 10 at a time; a help answered
    through its response_url (when Surge acknowledged first) goes to `respond` (the fake Slack).
    Returns (failures, seconds)."""
    import aiohttp

    sem = asyncio.Semaphore(CONCURRENCY)
    failures = 0

    async def one(session, i: int) -> None:
        nonlocal failures
        async with sem:
            if i % 2:
                async with session.get(base + "/healthz") as resp:
                    await resp.read()
            else:
                body = slash_body(USERS[i % len(USERS)], "help", n=start + i, response_url=f"{respond}/{start + i}")
                async with session.post(base + "/slack/events", data=body.encode(), headers=signed_headers(body)) as resp:
                    await resp.read()
            failures += resp.status != 200

    t = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        await asyncio.gather(*(one(session, i) for i in range(n)))
    return failures, time.perf_counter() - t


def main() -> int:
    args = parse_args(__doc__.split("\n")[0])
    header("idle footprint: RSS of `surge serve` after start and after 10,000 requests", args)
    n = 1_000 if args.quick else 10_000
    with serve("fake") as fake, sqlite_db("idle") as url:
        port = free_port()
        env = {"DATABASE_URL": url, "SURGE_ROSTER": str(ROOT / "examples" / "roster.yml"), "SLACK_BOT_TOKEN": TOKEN,
               "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url + "/api/", "SURGE_TIMEZONE": "America/New_York"}
        argv = [sys.executable, "-m", "bot.main", "serve", "--port", str(port), "--no-scheduler"]
        with Process(argv, port=port, env=env, ready_path="/healthz") as surge:
            time.sleep(2.0)
            start_rss, _ = rss_mib(surge.pid)
            print(f"after start:            RSS {start_rss:6.1f} MiB")
            after = []
            for batch in (1, 2):
                failures, took = asyncio.run(hammer(surge.url, n, batch * n, fake.url + "/respond"))
                time.sleep(1.0)
                rss, peak = rss_mib(surge.pid)
                after.append(rss)
                print(f"after {batch * n:>6,} requests:  RSS {rss:6.1f} MiB (peak {peak:6.1f} MiB)  "
                      f"{n / took:6.0f} req/s  failures {failures}")
                if failures:
                    print(surge.output()[-2000:])
                    raise SystemExit(f"{failures} requests failed")
    print(f"growth: first {n:,} requests {after[0] - start_rss:+.1f} MiB, next {n:,} {after[1] - after[0]:+.1f} MiB")
    ok = verdict(f"no growth in the second {n:,} requests (≤ {LEAK_MIB:.0f} MiB)", after[1] - after[0] <= LEAK_MIB,
                 f"{after[1] - after[0]:+.1f} MiB")
    print("all targets met" if ok else "some targets MISSED (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
