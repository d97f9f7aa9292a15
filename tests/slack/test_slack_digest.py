"""The morning digest in Slack: a DM to the manager with the figures, and the chart as a PNG."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

from handlers.clock import run_due
from tests.slack.conftest import DISPATCH


def test_digest_dm_and_chart_reach_slack_once(slack):
    slack.command("U0PAULA", 'sign "Paula Admin"')
    slack.command("U0TOM", "guidelines ack")
    slack.command("U0DANA", 'request "Patch" units=20 deadline=2030-03-10 pay=35 bill=60 town=Hicksville', channel=DISPATCH)
    slack.command("U0TOM", "claim SR-1 8")
    slack.command("U0TOM", "done SR-1")
    slack.command("U0DANA", 'verify SR-1 "Tom Tech"')
    now = datetime.combine(date.today(), time(18, 0), tzinfo=UTC)  # afternoon in New York: the digest is due
    assert run_due(slack.stack.core.db, now, home_timezone="America/New_York")[:1] == [f"digest:2:{date.today()}"]
    assert run_due(slack.stack.core.db, now, home_timezone="America/New_York") == []  # a second scheduler
    dm = slack.wait_sent("chat.postMessage", channel="U0MORGAN")[-1]
    assert "Surge digest" in dm["text"] and "$200.00" in json.dumps(dm["blocks"])  # 8 × ($60 − $35)
    slack.wait_sent("files.completeUploadExternal", count=2)
    assert len(slack.fake.uploads) == 2  # the manager's DM and the managers channel
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000 for png in slack.fake.uploads)
    channels = {c["channel_id"] for c in slack.fake.sent("files.completeUploadExternal")}
    assert channels == {"D0MORGAN", "C0MANAGERS"}
    assert len(slack.fake.sent("chat.postMessage", channel="U0MORGAN")) == 1
