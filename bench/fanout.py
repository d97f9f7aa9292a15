"""Fan-out: one request posted to 200 Slack partner channels, against a fake Slack that allows one
message per second per channel and answers 429 beyond it (Slack's own limit).

Measured: the time until every partner card is posted, the time from the first claim until every
card shows it, the claimant's DM, and the ack time of slash commands sent steadily meanwhile
(compared with the same commands while Surge is idle). Surge runs in a process of its own
(compose() + build_server(), the outbox sending through the SlackNotifier at its real pace).

Teams: not measured yet (its fake connector is being written in tests/teams/); this is Slack only.
"""
from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    databases, header, ms, parse_args, percentile, prepare_core, roster_yaml, serve, slash_load, tech_ids, verdict,
)
from tests.slack.fake_slack import FakeSlack  # noqa: E402

UNITS = 40
PROBE_EVERY = 0.05  # seconds between probe commands (20 a second)
SLOWEST_OK = 1.5


class TimedSlack(FakeSlack):
    """FakeSlack that also notes when each call landed and how many 429s it answered."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.landed: list[tuple[float, str, dict]] = []
        self.rate_limited = 0

    def _record(self, path, body, headers) -> None:
        super()._record(path, body, headers)
        with self.lock:
            self.landed.append((time.perf_counter(), path, body))

    async def _api(self, request):
        resp = await super()._api(request)
        if resp.status == 429:
            with self.lock:
                self.rate_limited += 1
        return resp

    def first(self, method: str, channels: set[str], contains: str = "", after: float = 0.0) -> dict[str, float]:
        """For each channel, when the first `method` call with `contains` in its text landed there."""
        with self.lock:
            landed = list(self.landed)
        out: dict[str, float] = {}
        for at, path, body in landed:
            ch = body.get("channel")
            if path == method and ch in channels and ch not in out and at >= after and contains in self.text_of(body):
                out[ch] = at
        return out


class Probe:
    """Slash commands (`list`, `help`) sent steadily from a thread of their own; latencies by send time."""

    def __init__(self, url: str, user: str):
        self.url, self.user = url, user
        self.samples: list[tuple[float, float]] = []  # (sent at, latency)
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        n = 0
        pending = set()
        while not self._stop.is_set():
            n += 1
            pending.add(asyncio.ensure_future(self._one(n)))
            pending = {t for t in pending if not t.done()}
            await asyncio.sleep(PROBE_EVERY)
        if pending:
            await asyncio.wait(pending)

    async def _one(self, n: int) -> None:
        sent = time.perf_counter()
        load = await slash_load(self.url, [(self.user, "list" if n % 2 else "help")], concurrency=1, start_n=n)
        self.errors += load.errors
        self.samples += [(sent, lat) for lat in load.latencies]

    def start(self) -> Probe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def between(self, start: float, end: float) -> list[float]:
        return [lat for at, lat in self.samples if start <= at <= end]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def main() -> int:
    args = parse_args(__doc__.split("\n")[0])
    header("fan-out: one request to many Slack partner channels, 1 message/s/channel enforced", args)
    channels = 50 if args.quick else 200
    print(f"{channels} partner channels + 1 dispatch channel; fake Slack answers 429 beyond 1 message/s/channel; "
          "Teams: not measured (its fake is not written yet)")
    partner_ids = {f"C0PART{i:03d}" for i in range(channels)}
    ok = True
    for db_name, cm in databases(args, "fanout"):
        fake = TimedSlack(per_channel_interval=1.0).start()
        try:
            with cm as url:
                core = prepare_core(url, roster_yaml(techs=4, partner_channels=channels), acknowledge=tech_ids(4))
                core.db.dispose()
                with serve("surge", db=url, slack_api=fake.api_url) as surge:
                    ok &= run(db_name, fake, surge.url + "/slack/events", partner_ids)
        finally:
            fake.stop()
    print("all targets met" if ok else "some targets MISSED (see above)")
    return 0


def run(db_name: str, fake: TimedSlack, url: str, partners: set[str]) -> bool:
    probe = Probe(url, "U0TECH003").start()
    time.sleep(3.0)  # the idle baseline
    idle_end = time.perf_counter()
    post = asyncio.run(slash_load(url, [("U0DISPATCH", f'request "DST patch" units={UNITS} deadline=2099-03-10 pay=35 '
                                         'bill=60 town=Hicksville customer="Acme Dental" site="12 Main St"')],
                                  concurrency=1))
    t0 = idle_end
    assert post.latencies, post.bad
    wait_until(lambda: fake.first("chat.postMessage", partners), 60, "the first partner card")
    claim_sent = time.perf_counter()
    claim = asyncio.run(slash_load(url, [("U0TECH000", "claim SR-1 1")], concurrency=1, expect="You have"))
    assert claim.latencies, claim.bad
    shows = f"{UNITS - 1} of {UNITS} units left"
    limit = 30 + len(partners) * 0.5
    wait_until(lambda: len(fake.first("chat.postMessage", partners)) == len(partners), limit, "every partner card")
    posted = fake.first("chat.postMessage", partners)
    wait_until(lambda: len(fake.first("chat.update", partners, shows)) == len(partners), limit,
               "every partner card to show the claim")
    updated = fake.first("chat.update", partners, shows)
    wait_until(lambda: fake.first("chat.postMessage", {"U0TECH000"}), limit, "the claimant's DM")
    dm = fake.first("chat.postMessage", {"U0TECH000"})["U0TECH000"]
    done = max(updated.values())
    time.sleep(1.0)
    probe.stop()
    idle = probe.between(0, idle_end)
    busy = probe.between(t0, done)
    print(f"-- {db_name}")
    print(f"   request ack {ms(post.latencies[0])}; first partner card after {ms(min(posted.values()) - t0)}; "
          f"all {len(partners)} posted after {max(posted.values()) - t0:.2f} s")
    print(f"   claim sent {claim_sent - t0:.2f} s after the post (ack {ms(claim.latencies[0])}); every card shows it "
          f"{done - claim_sent:.2f} s after the claim; the claimant's DM after {dm - claim_sent:.2f} s")
    print(f"   429s answered by the fake: {fake.rate_limited} (retried by the client after Retry-After)")
    print(f"   acks while idle:     n={len(idle):>4} p50 {ms(percentile(idle, 50))} p99 {ms(percentile(idle, 99))} "
          f"max {ms(max(idle))}")
    print(f"   acks during fan-out: n={len(busy):>4} p50 {ms(percentile(busy, 50))} p99 {ms(percentile(busy, 99))} "
          f"max {ms(max(busy))}  (probe errors {probe.errors})")
    ok = verdict(f"{db_name}: acks during the fan-out stay ≤ {SLOWEST_OK} s", max(busy) <= SLOWEST_OK and not probe.errors,
                 f"max {ms(max(busy))}")
    ok &= verdict(f"{db_name}: acks during the fan-out p99 ≤ 2× idle p99",
                  percentile(busy, 99) <= 2 * percentile(idle, 99),
                  f"{percentile(busy, 99) / percentile(idle, 99):.2f}×")
    return ok


if __name__ == "__main__":
    sys.exit(main())
