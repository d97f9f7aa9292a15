"""A Slack workspace in a box: the real `surge serve` app (Bolt behind our aiohttp server) on a
local port, a fake Slack Web API, and a client that sends Slack's real, signed request shapes."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import pytest

from bot.config import Settings
from bot.main import compose
from bot.server import build_server
from handlers.roster import load_roster
from tests.conftest import ROSTER
from tests.harness import ServerThread, wait_for
from tests.slack.fake_slack import FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PARTNERS, DISPATCH = "C0PARTNERS", "C0DISPATCH"


@dataclass
class Answer:
    status: int
    body: dict | str
    seconds: float

    @property
    def text(self) -> str:
        return json.dumps(self.body) if isinstance(self.body, dict) else self.body


@dataclass
class SlackRig:
    fake: FakeSlack
    server: ServerThread
    stack: object
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    last_click: str = ""

    # -- sending -------------------------------------------------------------------------------

    def post(self, body: str, content_type: str, *, ts: int | None = None, secret: str = SECRET,
             headers: dict | None = None) -> Answer:
        ts = int(time.time()) if ts is None else ts
        sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        req = urllib.request.Request(
            self.server.url + "/slack/events", data=body.encode(), method="POST",
            headers={"Content-Type": content_type, "X-Slack-Request-Timestamp": str(ts),
                     "X-Slack-Signature": sig, **(headers or {})})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw, status = resp.read().decode(), resp.status
        except urllib.error.HTTPError as err:
            raw, status = err.read().decode(), err.code
        took = time.perf_counter() - start
        try:
            return Answer(status, json.loads(raw) if raw else {}, took)
        except ValueError:
            return Answer(status, raw, took)

    def command(self, user: str, text: str, *, channel: str = PARTNERS, follow: bool = True, **kw) -> Answer:
        """A signed slash command, and what its sender was told: in the ack, or (when Surge acked first,
        as it does when the core is busy or slow on this machine) through its `response_url`.
        `follow=False`: the ack alone."""
        n = next(self.ids)
        form = {"token": "legacy", "team_id": "T0SURGE", "team_domain": "surge", "channel_id": channel,
                "channel_name": "partners", "user_id": user, "user_name": user.lower(), "command": "/surge",
                "text": text, "api_app_id": "A0SURGE", "response_url": self.fake.response_url(f"cmd{n}"),
                "trigger_id": f"trigger.{n}"}
        ack = self.post(urllib.parse.urlencode(form), "application/x-www-form-urlencoded", **kw)
        if not follow or ack.status != 200 or ack.body:
            return ack
        # an empty ack: the answer follows through response_url, or a form opens with the trigger
        wait_for(lambda: self.fake.sent(f"respond/cmd{n}") or self.fake.sent("views.open", trigger_id=f"trigger.{n}"),
                 what=f"the answer to {text!r}")
        said = self.fake.sent(f"respond/cmd{n}")
        return Answer(ack.status, said[-1], ack.seconds) if said else ack

    def interact(self, payload: dict, **kw) -> Answer:
        return self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}),
                         "application/x-www-form-urlencoded", **kw)

    def click(self, user: str, button: dict, *, channel: str = PARTNERS, message_ts: str = "1.1",
              view: dict | None = None) -> Answer:
        n = next(self.ids)
        self.last_click = f"click{n}"
        payload = {
            "type": "block_actions", "team": {"id": "T0SURGE"}, "user": {"id": user}, "api_app_id": "A0SURGE",
            "trigger_id": f"trigger.{n}", "actions": [{**button, "type": "button", "block_id": "b",
                                                       "action_ts": f"{time.time():.6f}{n}"}],
        }
        if view is not None:
            payload["view"] = view
        else:
            payload |= {"channel": {"id": channel}, "container": {"type": "message", "message_ts": message_ts},
                        "message": {"ts": message_ts}, "response_url": self.fake.response_url(f"click{n}")}
        return self.interact(payload)

    def submit(self, user: str, view: dict, values: dict) -> Answer:
        payload = {"type": "view_submission", "team": {"id": "T0SURGE"}, "user": {"id": user},
                   "api_app_id": "A0SURGE", "view": {**view, "id": f"V{next(self.ids)}", "state": {"values": values}}}
        return self.interact(payload)

    def event(self, event: dict, *, event_id: str | None = None, **kw) -> Answer:
        body = {"token": "legacy", "team_id": "T0SURGE", "api_app_id": "A0SURGE", "type": "event_callback",
                "event_id": event_id or f"Ev{next(self.ids)}", "event_time": int(time.time()), "event": event}
        return self.post(json.dumps(body), "application/json", **kw)

    # -- reading -------------------------------------------------------------------------------

    def buttons(self, blocks: list[dict]) -> dict[str, dict]:
        """Every button in some blocks, by its label."""
        out = {}
        for block in blocks or []:
            for el in block.get("elements", []):
                if el.get("type") == "button":
                    # as Slack sends a clicked button back: its id, value and text
                    out[el["text"]["text"]] = {"action_id": el["action_id"], "value": el["value"], "text": el["text"]}
        return out

    def card(self, channel: str) -> dict:
        """The newest version of the request card in a channel: its post, or its latest update."""
        posts = self.fake.sent("chat.postMessage", channel=channel)
        updates = self.fake.sent("chat.update", channel=channel)
        return (updates or posts)[-1]

    def click_answer(self) -> dict:
        """What the newest click's clicker was told privately (through its response_url)."""
        return self.wait_sent(f"respond/{self.last_click}")[-1]

    def wait_sent(self, method: str, count: int = 1, **match) -> list[dict]:
        return wait_for(lambda: (got := self.fake.sent(method, **match)) and len(got) >= count and got,
                        what=f"{count} × {method} {match}")


@pytest.fixture
def slack(db_url) -> SlackRig:
    fake = FakeSlack().start()
    cfg = Settings(_env_file=None, database_url=db_url, slack_bot_token="xoxb-test-token",
                   slack_signing_secret=SECRET, slack_api_url=fake.api_url, surge_timezone="America/New_York")
    stack = compose(cfg)
    for notifier in stack.notifiers:
        notifier.interval = 0.01  # the fake does not enforce Slack's pace unless a test asks it to
    load_roster(stack.core.db, ROSTER.read_text())
    server = ServerThread(lambda: build_server(stack.core, outbox=stack.outbox, slack_app=stack.slack_app)).start()
    rig = SlackRig(fake=fake, server=server, stack=stack)
    yield rig
    assert_partner_channels_kept_private(rig)
    server.stop()
    fake.stop()
    stack.core.db.dispose()


def assert_partner_channels_kept_private(rig: SlackRig) -> None:
    """The privacy watch: no call that reached a partner channel names any request's customer,
    site or contact (every Slack test ends with it)."""
    from sqlmodel import select

    from models.tables import Channel, SurgeRequest

    with rig.stack.core.db.session() as s:
        partner_channels = {c.external_id for c in s.exec(select(Channel).where(Channel.purpose == "partners"))}
        secrets = {v for r in s.exec(select(SurgeRequest)) for v in (r.customer, r.site, r.contact) if len(v) > 3}
    for call in rig.fake.calls:
        if call.body.get("channel") in partner_channels or call.body.get("channel_id") in partner_channels:
            text = json.dumps(call.body, ensure_ascii=False)
            leaked = [v for v in secrets if v in text or v.replace('"', '\\"') in text]
            assert not leaked, f"{call.path} to a partner channel named {leaked}"
