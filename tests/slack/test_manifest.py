"""The Slack app manifest matches the code: every URL, event, command and scope it uses."""
from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT

SLACK = ROOT / "bot" / "slack"
APP = "\n".join(p.read_text() for p in [SLACK / "app.py", *sorted((SLACK / "listeners").glob("*.py"))])
CODE = APP + (ROOT / "bot" / "slack" / "notifier.py").read_text()
MANIFEST = yaml.safe_load((ROOT / "slack" / "manifest.yml").read_text())
SERVER = (ROOT / "bot" / "server.py").read_text()
SCOPES_FOR = {"chat_postMessage": "chat:write", "chat_update": "chat:write", "chat_postEphemeral": "chat:write",
              "files_upload_v2": "files:write", "conversations_open": "im:write"}
EVENT_NAMES = {"message": "message.im", "app_mention": "app_mention", "app_home_opened": "app_home_opened"}


def test_every_url_is_the_servers_slack_route():
    route = re.search(r'add_post\("(/slack/events)"', SERVER).group(1)
    urls = [c["url"] for c in MANIFEST["features"]["slash_commands"]]
    urls += [MANIFEST["settings"]["event_subscriptions"]["request_url"],
             MANIFEST["settings"]["interactivity"]["request_url"]]
    assert urls and all(u.startswith("https://") and u.endswith(route) for u in urls)


def test_the_command_the_code_listens_to_is_declared():
    listened = set(re.findall(r'@app\.command\("([^"]+)"\)', APP))
    assert listened == {c["command"] for c in MANIFEST["features"]["slash_commands"]} == {"/surge"}


def test_every_event_the_code_listens_to_is_subscribed():
    listened = {EVENT_NAMES[e] for e in re.findall(r'@app\.event\("([^"]+)"\)', APP)}
    assert listened and listened <= set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])


def test_every_web_api_method_used_has_its_scope():
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    used = {m for m in SCOPES_FOR if f"{m}(" in CODE}
    assert used and {SCOPES_FOR[m] for m in used} <= scopes
    assert {"commands", "im:history", "app_mentions:read"} <= scopes


def test_app_home_and_interactivity_are_on():
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
