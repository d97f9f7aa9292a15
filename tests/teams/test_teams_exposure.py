"""What an unauthenticated sender can't do: re-point a channel's stored address (so its cards would go
to them), or reach a server in emulator mode from another machine (`surge serve` listens on loopback)."""
from __future__ import annotations

import ipaddress
import logging
import socket

import pytest
from aiohttp import web
from typer.testing import CliRunner

from bot.config import Settings
from bot.main import cli, compose, serve_host
from bot.server import build_server
from bot.teams.references import for_channel
from handlers.roster import load_roster
from tests.harness import ServerThread, wait_for
from tests.teams.conftest import DANA, DISPATCH, POST_SR1, request_card, settle, teams_roster
from tests.teams.fake_connector import FakeConnector, Teams, activity

MALLORY = "29:1mallory"  # on no roster


@pytest.fixture
def elsewhere():
    """A second Bot Connector: somebody else's service."""
    fake = FakeConnector().start()
    yield fake
    fake.stop()


def test_someone_off_the_roster_cannot_repoint_the_dispatch_channel(installed, connector, elsewhere, surge):
    body = installed.message(MALLORY, "help", channel=DISPATCH)
    body["serviceUrl"] = elsewhere.url
    assert installed.post(body)[0] in (200, 201)

    installed.say(DANA, POST_SR1)

    card = wait_for(lambda: request_card(connector, DISPATCH, 1), what="the dispatch card at the real connector")
    assert "Acme Dental" in card.text
    settle(surge)
    assert not [c for c in elsewhere.calls if "Acme Dental" in c.strings or "SR-1 ·" in c.text]


def test_an_install_by_someone_off_the_roster_stores_no_address(teams, connector, elsewhere, surge):
    install = activity("conversationUpdate", teams.user(MALLORY), teams.channel(DISPATCH), elsewhere.url,
                       membersAdded=[{"id": "28:surge-bot", "name": "Surge"}],
                       channelData={**teams.channel_data(DISPATCH), "eventType": "teamMemberAdded"})
    assert teams.post(install)[0] in (200, 201)
    assert for_channel(surge.core.db, DISPATCH) is None
    teams.install(channel=DISPATCH)  # Dana adds the app: now Surge knows where the channel is
    assert for_channel(surge.core.db, DISPATCH).service_url == connector.url


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


SLACK = {"slack_bot_token": "xoxb-1-real", "slack_signing_secret": "a-real-signing-secret"}
TEAMS = {"microsoft_app_id": "00000000-0000-0000-0000-000000000001", "microsoft_app_password": "a-real-password"}


@pytest.mark.parametrize(("values", "host", "loopback_only"), [
    ({}, "127.0.0.1", True),  # nothing configured; Teams in emulator mode
    (SLACK, "127.0.0.1", True),  # Slack is signed, but Teams still takes unauthenticated activities
    ({**SLACK, "surge_env": "production"}, "0.0.0.0", False),  # Teams refused in production: Slack alone
    (TEAMS, "0.0.0.0", False),
    ({**SLACK, **TEAMS}, "0.0.0.0", False),
    ({"slack_bot_token": "xoxb-1-real", "slack_app_token": "xapp-1-real", "surge_env": "production"},
     "127.0.0.1", True),  # Socket Mode needs no inbound HTTP, and nothing here is signed
])
def test_serve_listens_on_loopback_unless_requests_are_authenticated(values, host, loopback_only):
    chosen, why = serve_host(settings(**values))
    assert chosen == host and bool(why) == loopback_only


def test_host_option_overrides_and_is_documented():
    assert serve_host(settings(), "0.0.0.0") == ("0.0.0.0", None)
    result = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "--host" in result.output and "emulator mode" in result.output and "127.0.0.1" in result.output


def test_serve_says_why_it_listens_on_loopback(db_url, caplog, monkeypatch):
    seen = {}
    monkeypatch.setattr(web, "run_app", lambda app, **kw: seen.update(kw))  # aiohttp's, not ours: don't serve
    with caplog.at_level(logging.WARNING, logger="surge"):
        result = CliRunner().invoke(cli, ["serve", "--no-scheduler", "--port", "0"],
                                    env={"DATABASE_URL": db_url, "MICROSOFT_APP_ID": "", "SLACK_BOT_TOKEN": "",
                                         "SLACK_SIGNING_SECRET": "", "SURGE_ENV": "development", "SURGE_ROSTER": ""})
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1"
    assert "listening on 127.0.0.1 only: Teams is in emulator mode" in caplog.text
    assert "--host 0.0.0.0" in caplog.text


def outward_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the interface
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def test_in_emulator_mode_an_activity_from_another_machine_stores_no_address(db_url, clock, connector):
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    stack = compose(Settings(_env_file=None, database_url=db_url, surge_timezone="America/New_York"))
    stack.core.clock = clock
    load_roster(stack.core.db, teams_roster(), now=clock())
    server = ServerThread(lambda: build_server(stack.core, outbox=stack.outbox, teams=stack.teams),
                          bind="0.0.0.0", address=address).start()
    try:
        remote = Teams(server.url, connector)
        remote.install(channel=DISPATCH)  # Dana's id, but nothing proves it is Dana
        assert wait_for(lambda: connector.in_conversation(DISPATCH), what="the welcome")  # answered…
        assert for_channel(stack.core.db, DISPATCH) is None  # …but the channel's address is not taken from it
        Teams(f"http://127.0.0.1:{server.port}", connector).install(channel=DISPATCH)  # from this machine
        assert for_channel(stack.core.db, DISPATCH) is not None
    finally:
        server.stop()
        stack.core.db.dispose()
