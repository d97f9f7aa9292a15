"""Shared helpers for the benchmarks: the command line, the machine line, percentiles, Slack request
signing, a roster builder, databases of their own (SQLite in a temp dir, PostgreSQL created and
dropped), and servers in a subprocess (`bench/_serve.py`) so that a client never shares their
event loop or their GIL.

Every benchmark prints its figures and a verdict per target. A missed target prints `MISSED` but
never fails the run: only a crash does (a non-zero exit).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ first; the project (and tests/) live in ROOT
    sys.path.insert(0, str(ROOT))

SECRET = "bench-signing-secret-8f742231b10e"
TOKEN = "xoxb-bench-token"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TIMEZONE = "America/New_York"


# -- command line and output -------------------------------------------------------------------

def parse_args(description: str, extra=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI (figures are indicative only)")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL,
                        help="an admin URL of a PostgreSQL server; a database of the benchmark's own is made beside it")
    if extra:
        extra(parser)
    return parser.parse_args()


def machine_line() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    load = ""
    with contextlib.suppress(OSError):
        load = f", load average {os.getloadavg()[0]:.2f} at start"
    return (f"machine: {model}, {os.cpu_count()} cores{mem}, Python {platform.python_version()} "
            f"({platform.system()} {platform.release()}){load}")


def header(title: str, args: argparse.Namespace) -> None:
    print(f"== {title}{' (--quick: small sizes, figures indicative only)' if args.quick else ''}")
    print(machine_line())
    sys.stdout.flush()


def verdict(what: str, ok: bool, detail: str) -> bool:
    print(f"  target {'met   ' if ok else 'MISSED'} · {what}: {detail}")
    sys.stdout.flush()
    return ok


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# -- Slack requests ----------------------------------------------------------------------------

def signed_headers(body: str, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 over `v0:{timestamp}:{body}`."""
    ts = int(time.time()) if ts is None else ts
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sig}


def slash_body(user: str, text: str, *, n: int, channel: str = "C0BENCH", response_url: str = "") -> str:
    """A `/surge` slash command as Slack posts it (form-encoded)."""
    return urllib.parse.urlencode({
        "token": "legacy", "team_id": "T0SURGE", "team_domain": "surge", "channel_id": channel,
        "channel_name": "bench", "user_id": user, "user_name": user.lower(), "command": "/surge", "text": text,
        "api_app_id": "A0SURGE", "response_url": response_url or f"http://127.0.0.1:9/respond/{n}",
        "trigger_id": f"trigger.{n}",
    })


@dataclass
class Load:
    latencies: list[float]  # seconds, of the requests answered 200
    errors: int
    elapsed: float
    bad: list[str]
    answers: list[float] = field(default_factory=list)  # seconds until the answer (in the ack, or at response_url)
    lost: int = 0  # acked, but no answer came through response_url in time

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def line(self, label: str) -> str:
        lat = self.latencies
        return (f"{label:<28} n={len(lat):>5}  p50 {percentile(lat, 50) * 1000:7.1f} ms  "
                f"p99 {percentile(lat, 99) * 1000:7.1f} ms  max {max(lat, default=0) * 1000:7.1f} ms  "
                f"{self.throughput:7.1f} req/s  errors {self.errors}")


async def slash_load(url: str, commands: Sequence[tuple[str, str]], *, concurrency: int,
                     expect: str | None = None, start_n: int = 0, rate: float | None = None,
                     answers: bool = False, hold: bool = True) -> Load:
    """Send `(user, text)` slash commands to `url` with at most `concurrency` in flight (a closed
    loop), or, with `rate`, one every 1/rate seconds whatever the answers (an open loop, as users
    clicking independently would).

    Each request is signed when it is sent. `expect`: a substring every answer must contain
    (`None`: any 200 counts). `answers`: a command acked empty is answered later through its
    `response_url`, served here; each client waits for its answer before sending the next command
    (as a user does), and the time to the answer is recorded beside the ack's. With `hold=False` a
    client sends its next command as soon as it has the ack, and the answers are still awaited and
    timed (a command whose answer never comes within 120 s counts in `lost`)."""
    import aiohttp
    from aiohttp import web

    sem = asyncio.Semaphore(concurrency)
    began = time.perf_counter()
    latencies: list[float] = []
    bad: list[str] = []
    errors = 0

    answered: list[float] = []
    pending: dict[int, asyncio.Future] = {}
    respond_base = "http://127.0.0.1:9/respond"  # nothing listens: answers through response_url are dropped
    runner = None
    if answers:
        async def on_respond(request: web.Request) -> web.Response:
            await request.read()
            waiter = pending.get(int(request.match_info["n"]))
            if waiter is not None and not waiter.done():
                waiter.set_result(time.perf_counter())
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_post("/respond/{n}", on_respond)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        respond_base = f"http://127.0.0.1:{port}/respond"

    lost = 0
    last_ack = [began]

    async def answer(n: int, start: float) -> None:
        nonlocal lost
        try:
            answered.append(await asyncio.wait_for(pending[n], timeout=30 if hold else 120) - start)
        except TimeoutError:
            lost += 1
        finally:
            pending.pop(n, None)

    async def one(session, i: int, user: str, text: str) -> None:
        nonlocal errors
        if rate:
            await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
        later = None
        async with sem:
            n = start_n + i
            body = slash_body(user, text, n=n, response_url=f"{respond_base}/{n}")
            if answers:
                pending[n] = asyncio.get_running_loop().create_future()
            start = time.perf_counter()
            try:
                async with session.post(url, data=body.encode(), headers=signed_headers(body)) as resp:
                    raw = await resp.text()
                    took = time.perf_counter() - start
                    if resp.status != 200 or (expect is not None and raw and expect not in raw):
                        errors += 1
                        if len(bad) < 3:
                            bad.append(f"{resp.status} {text!r}: {raw[:200]}")
                        pending.pop(n, None)
                        return
                    latencies.append(took)
                    last_ack[0] = time.perf_counter()
                if answers and not raw:  # acked empty: the answer comes through response_url
                    if hold:
                        await answer(n, start)
                    else:
                        later = answer(n, start)
                else:
                    answered.append(took)
                    pending.pop(n, None)
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors += 1
                pending.pop(n, None)
                if len(bad) < 3:
                    bad.append(f"{type(exc).__name__}: {exc}")
        if later is not None:
            await later

    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        await asyncio.gather(*(one(session, i, u, t) for i, (u, t) in enumerate(commands)))
        elapsed = time.perf_counter() - start if hold else last_ack[0] - start  # not hold: the acks' span
    if runner is not None:
        await runner.cleanup()
    return Load(latencies, errors, elapsed, bad, answered, lost)


# -- a roster of any size ----------------------------------------------------------------------

def roster_yaml(*, techs: int = 4, partner_channels: int = 1, dispatcher: str = "U0DISPATCH",
                managers: int = 1, tech_prefix: str = "U0TECH", channel_prefix: str = "C0PART",
                teams_channels: int = 0) -> str:
    """A home MSP, one vetted partner that signed (imported, valid for a year), `techs` techs, a
    dispatcher, managers, `partner_channels` tier-1 Slack partner channels, `teams_channels` tier-1
    Teams partner channels (`teams_channel(i)`) and a Slack dispatch channel."""
    today = datetime.now(UTC).date().isoformat()
    out = [
        "home:\n  name: Bench Home IT\n  timezone: America/New_York\n",
        "partners:\n  - name: Bench Partner\n    status: vetted\n    skills: [windows]\n",
        f"    signed:\n      version: \"bench-1\"\n      by: Pat Partner\n      date: {today}\n",
        "people:\n",
        # Dee installs the app in the Teams channels: only a roster member's activity stores an address
        f"  - name: Dee Dispatch\n    org: Bench Home IT\n    roles: [dispatcher]\n    slack: {dispatcher}\n"
        '    teams: "29:1dana"\n',
        "  - name: Pat Partner\n    org: Bench Partner\n    roles: [partner_admin]\n    slack: U0PAT\n",
    ]
    out += [f"  - name: Manager {i:02d}\n    org: Bench Home IT\n    roles: [manager]\n    slack: U0MGR{i:02d}\n"
            for i in range(managers)]
    out += [f"  - name: Tech {i:03d}\n    org: Bench Partner\n    roles: [tech]\n    slack: {tech_prefix}{i:03d}\n"
            for i in range(techs)]
    out.append("channels:\n  - platform: slack\n    id: C0DISPATCH\n    purpose: dispatch\n")
    out += [f"  - platform: slack\n    id: {channel_prefix}{i:03d}\n    purpose: partners\n    tier: 1\n"
            for i in range(partner_channels)]
    out += [f"  - platform: teams\n    id: \"{teams_channel(i)}\"\n    purpose: partners\n    tier: 1\n"
            for i in range(teams_channels)]
    out.append(
        'agreement:\n  version: "bench-1"\n  title: Mutual Non-Solicitation Agreement\n  term_months: 12\n'
        "  text: The partner shall not solicit any customer or employee of Bench Home IT during the term.\n"
        'guidelines:\n  version: "1"\n  introduce: On behalf of Bench Home IT.\n  never_share: Prices.\n'
        "  escalate: Type problem.\n  more_work: Hand it back as a lead.\n")
    return "".join(out)


def teams_channel(i: int) -> str:
    return f"19:part{i:03d}@thread.tacv2"


def tech_ids(n: int, prefix: str = "U0TECH") -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


def prepare_core(url: str, roster: str, *, acknowledge: Sequence[str] = ()):
    """Migrate, load the roster, and have these Slack users acknowledge the guidelines. Returns the core."""
    from bot.config import Settings
    from bot.main import build_core
    from handlers.roster import load_roster
    from handlers.types import Identity

    core = build_core(Settings(_env_file=None, database_url=url, surge_timezone=TIMEZONE))
    load_roster(core.db, roster)
    for uid in acknowledge:
        reply = core.handle_text(Identity(platform="slack", user_id=uid), "guidelines ack")
        assert reply.ok, reply.text
    return core


def post_request(core, *, units: int, title: str = "DST patch", dispatcher: str = "U0DISPATCH") -> int:
    """Post a request through the core; returns its id."""
    from handlers.types import Identity

    reply = core.handle_text(Identity(platform="slack", user_id=dispatcher),
                             f'request "{title}" units={units} deadline=2099-03-10 pay=35 bill=60 town=Hicksville '
                             'customer="Acme Dental" site="12 Main St" contact="Ann Lee 516-555-0101"')
    assert reply.ok, reply.text
    return int(reply.text.split("SR-", 1)[1].split("*", 1)[0])


# -- databases ---------------------------------------------------------------------------------

@contextlib.contextmanager
def sqlite_db(name: str = "surge") -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="surge-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / (name + '.db')}"


def pg_available(admin_url: str) -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure: no PostgreSQL here
        return False
    finally:
        engine.dispose()


@contextlib.contextmanager
def pg_db(admin_url: str, tag: str) -> Iterator[str]:
    """A database of this run's own (`surge_bench_<tag>_<pid>`), dropped at the end whatever happens."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"surge_bench_{tag}_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def databases(args: argparse.Namespace, tag: str) -> Iterator[tuple[str, contextlib.AbstractContextManager]]:
    """('SQLite', cm) and, when reachable, ('PostgreSQL', cm): each cm yields a fresh database URL."""
    yield "SQLite", sqlite_db(tag)
    if args.no_pg:
        print("PostgreSQL: skipped (--no-pg)")
    elif not pg_available(args.pg_url):
        print(f"PostgreSQL: skipped (nothing answers at {args.pg_url})")
    else:
        yield "PostgreSQL", pg_db(args.pg_url, tag)


# -- servers -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, *, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


class Process:
    """A server in a subprocess; its output goes to a log file that is shown if it dies."""

    def __init__(self, argv: list[str], *, port: int, env: dict[str, str] | None = None, ready_path: str = "/"):
        self.port = port
        self.log = tempfile.NamedTemporaryFile(prefix="surge-bench-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     env={**os.environ, **(env or {})})
        try:
            wait_http(f"{self.url}{ready_path}", proc=self.proc)
        except RuntimeError:
            self.stop()
            print(self.output()[-3000:], file=sys.stderr)
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(mode: str, *, db: str = "", slack_api: str = "", interval: float | None = None,
          extra: Sequence[str] = ()) -> Process:
    """`bench/_serve.py`: `surge` (compose + build_server), `bare` (a Bolt app that only acks) or `fake` (FakeSlack).
    `extra`: more options for `_serve.py` (e.g. `--core-workers 1`, to measure a setting)."""
    port = free_port()
    argv = [sys.executable, str(BENCH / "_serve.py"), mode, "--port", str(port), *extra]
    if db:
        argv += ["--db", db]
    if slack_api:
        argv += ["--slack-api", slack_api]
    if interval is not None:
        argv += ["--interval", str(interval)]
    return Process(argv, port=port, ready_path="/healthz" if mode != "fake" else "/")


def rss_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc."""
    now = peak = float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return now, peak


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
