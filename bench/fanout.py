"""Fan-out: one request posted to 200 partner channels, 100 in Slack and 100 in Teams, against a fake
Slack and a fake Bot Connector that each allow one message per second per channel and answer 429
(with Retry-After) beyond it.

Measured: the time until every partner card is posted on each platform, the time from the first
claim until every card shows it, the claimant's DM, and the ack time of slash commands sent
steadily meanwhile (compared with the same commands while Surge is idle). Surge runs in a process
of its own (compose() + build_server(), the outbox sending through the Slack and Teams notifiers at
their real pace); the Teams channels are installed first (a `conversationUpdate` each), as Teams does
when the app is added to a team, so Surge holds a conversation reference for each.
"""
from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    databases,
    header,
    ms,
    parse_args,
    percentile,
    prepare_core,
    roster_yaml,
    serve,
    slash_load,
    teams_channel,
    tech_ids,
    verdict,
)
from tests.slack.fake_slack import FakeSlack  # noqa: E402
from tests.teams.fake_connector import FakeConnector, Teams  # noqa: E402

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


class TimedConnector(FakeConnector):
    """The fake Bot Connector, allowing one message per second per conversation (429 with
    Retry-After beyond it), noting when each accepted call landed."""

    def __init__(self, *, interval: float = 1.0):
        super().__init__()
        self.interval = interval
        self.landed: list[tuple[float, object]] = []
        self.rate_limited = 0
        self._last: dict[str, float] = {}

    def _record(self, request, body):
        call, failed = super()._record(request, body)
        if failed is not None or call.conversation is None:
            return call, failed
        now, where = time.perf_counter(), call.conversation.split(";")[0]
        with self._lock:
            if now - self._last.get(where, -1e9) < self.interval:
                call.answered = 429
                self.rate_limited += 1
                return call, web.json_response({"error": {"code": "Throttled", "message": "1 a second"}}, status=429,
                                               headers={"Retry-After": "1"})
            self._last[where] = now
            self.landed.append((now, call))
        return call, None

    def first(self, kind: str, conversations: set[str], contains: str = "") -> dict[str, float]:
        with self._lock:
            landed = list(self.landed)
        out: dict[str, float] = {}
        for at, call in landed:
            where = call.conversation.split(";")[0]
            if call.kind == kind and where in conversations and where not in out and contains in call.text:
                out[where] = at
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
    header("fan-out: one request to Slack and Teams partner channels, 1 message/s/channel enforced", args)
    per_platform = 25 if args.quick else 100
    print(f"{per_platform} Slack + {per_platform} Teams partner channels + 1 Slack dispatch channel; the fakes answer "
          "429 beyond 1 message/s/channel")
    slack_ids = {f"C0PART{i:03d}" for i in range(per_platform)}
    teams_ids = {teams_channel(i) for i in range(per_platform)}
    ok = True
    for db_name, cm in databases(args, "fanout"):
        fake, connector = TimedSlack(per_channel_interval=1.0).start(), TimedConnector().start()
        try:
            with cm as url:
                core = prepare_core(url, roster_yaml(techs=4, partner_channels=per_platform, teams_channels=per_platform),
                                    acknowledge=tech_ids(4))
                core.db.dispose()
                with serve("surge", db=url, slack_api=fake.api_url) as surge:
                    teams = Teams(surge.url, connector)
                    for channel in sorted(teams_ids):
                        teams.install(channel=channel)
                    wait_until(lambda connector=connector: len(connector.first("post", teams_ids, "Surge is here")) == len(teams_ids), 60,
                               "the welcome in every Teams channel")
                    ok &= run(db_name, fake, connector, surge.url + "/slack/events", slack_ids, teams_ids)
        finally:
            fake.stop()
            connector.stop()
    print("all targets met" if ok else "some targets MISSED (see above)")
    return 0


def run(db_name: str, fake: TimedSlack, connector: TimedConnector, url: str, slack: set[str], teams: set[str]) -> bool:
    probe = Probe(url, "U0TECH003").start()
    time.sleep(3.0)  # the idle baseline
    idle_end = time.perf_counter()
    post = asyncio.run(slash_load(url, [("U0DISPATCH", f'request "DST patch" units={UNITS} deadline=2099-03-10 pay=35 '
                                         'bill=60 town=Hicksville customer="Acme Dental" site="12 Main St"')],
                                  concurrency=1))
    t0 = idle_end
    assert post.latencies, post.bad
    card = "SR-1 ·"
    wait_until(lambda: fake.first("chat.postMessage", slack) or connector.first("post", teams, card), 60,
               "the first partner card")
    claim_sent = time.perf_counter()
    claim = asyncio.run(slash_load(url, [("U0TECH000", "claim SR-1 1")], concurrency=1, expect="You have"))
    assert claim.latencies, claim.bad
    shows = f"{UNITS - 1} of {UNITS} units left"
    limit = 30 + (len(slack) + len(teams)) * 0.5
    wait_until(lambda: len(fake.first("chat.postMessage", slack)) == len(slack), limit, "every Slack partner card")
    wait_until(lambda: len(connector.first("post", teams, card)) == len(teams), limit, "every Teams partner card")
    posted = {"Slack": fake.first("chat.postMessage", slack), "Teams": connector.first("post", teams, card)}

    def updated() -> dict[str, dict[str, float]]:
        """Per platform, when each card first showed the claim (posted with it, or updated to it)."""
        out = {"Slack": fake.first("chat.update", slack, shows), "Teams": connector.first("update", teams, shows)}
        for where, at in fake.first("chat.postMessage", slack, shows).items():
            out["Slack"].setdefault(where, at)
        for where, at in connector.first("post", teams, shows).items():
            out["Teams"].setdefault(where, at)
        return out

    wait_until(lambda: [len(v) for v in updated().values()] == [len(slack), len(teams)], limit,
               "every partner card to show the claim")
    shown = updated()
    wait_until(lambda: fake.first("chat.postMessage", {"U0TECH000"}), limit, "the claimant's DM")
    dm = fake.first("chat.postMessage", {"U0TECH000"})["U0TECH000"]
    done = max(max(v.values()) for v in shown.values())
    time.sleep(1.0)
    probe.stop()
    idle = probe.between(0, idle_end)
    busy = probe.between(t0, done)
    print(f"-- {db_name}")
    print(f"   request ack {ms(post.latencies[0])}; claim sent {claim_sent - t0:.2f} s after the post "
          f"(ack {ms(claim.latencies[0])}); the claimant's DM {dm - claim_sent:.2f} s after the claim")
    for platform in ("Slack", "Teams"):
        print(f"   {platform}: first partner card after {ms(min(posted[platform].values()) - t0)}; all "
              f"{len(posted[platform])} posted after {max(posted[platform].values()) - t0:.2f} s; every card shows "
              f"the claim {max(shown[platform].values()) - claim_sent:.2f} s after it")
    print(f"   429s answered: Slack {fake.rate_limited}, Teams {connector.rate_limited} (retried after Retry-After)")
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
