"""Real `surge serve` processes (as deployed), a fake Slack for them, and a signed HTTP client."""
from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest

from tests.conftest import ROOT, ROSTER
from tests.harness import free_port
from tests.slack.fake_slack import FakeSlack

SECRET = "reliability-signing-secret"


@dataclass
class Serve:
    """One `surge serve` process."""

    proc: subprocess.Popen
    port: int
    log: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_serve(db_url: str, fake: FakeSlack, tmp_path, *, roster: str | None = None, name: str = "serve") -> Serve:
    port = free_port()
    log = tmp_path / f"{name}-{port}.log"
    env = {**os.environ, "DATABASE_URL": db_url, "SLACK_BOT_TOKEN": "xoxb-reliability", "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": fake.api_url, "SURGE_TIMEZONE": "America/New_York", "SURGE_ROSTER": roster or str(ROSTER)}
    proc = subprocess.Popen([sys.executable, "-m", "bot.main", "serve", "--port", str(port), "--no-scheduler"],
                            cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    serve = Serve(proc, port, str(log))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"surge serve exited: {open(log).read()[-3000:]}")
        try:
            with urllib.request.urlopen(serve.url + "/healthz", timeout=1):
                return serve
        except OSError:
            time.sleep(0.1)
    serve.stop()
    raise RuntimeError("surge serve did not answer /healthz")


_names = itertools.count(1)


@functools.cache
def responses() -> FakeSlack:
    """Where slash commands' `response_url`s point (Surge answers there when it acknowledged first):
    one fake Slack for every test of this folder, started when first needed."""
    return FakeSlack().start()


def _answer_through_response_url(name: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while not (got := responses().sent(f"respond/{name}")):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer through response_url {name}")
        time.sleep(0.02)
    return got[0]


def command(url: str, user: str, text: str, *, timeout: float = 30) -> tuple[int, dict]:
    """A signed `/surge` slash command; returns the status and the ephemeral answer, whether it came
    in the acknowledgement or, when Surge acknowledged first, through the `response_url`."""
    name = f"cmd{next(_names)}"
    body = urllib.parse.urlencode({
        "command": "/surge", "text": text, "user_id": user, "channel_id": "C0PARTNERS", "team_id": "T0SURGE",
        "trigger_id": "t", "response_url": responses().response_url(name)})
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(url + "/slack/events", data=body.encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {}
    return status, json.loads(raw) if raw else _answer_through_response_url(name, timeout)


def health(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


@pytest.fixture
def fake_slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def crew_roster(tmp_path, n: int) -> str:
    """The example roster plus `n` Contoso techs with Slack ids U0CREW000…"""
    people = "".join(f"  - name: Crew {i:03d}\n    org: Contoso Field Services\n    roles: [tech]\n"
                     f"    slack: U0CREW{i:03d}\n" for i in range(n))
    path = tmp_path / "crew.yml"
    path.write_text(ROSTER.read_text().replace("channels:\n", people + "channels:\n", 1))
    return str(path)
