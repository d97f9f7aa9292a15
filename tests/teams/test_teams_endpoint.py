"""POST /api/messages at the edge: authentication, bad requests, emulator mode and production, stored
conversation references, re-deliveries, channels Surge can't reach yet."""
from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request

import pytest
from sqlmodel import select

from bot.config import Settings
from bot.main import compose, report_teams
from bot.server import build_server
from bot.teams.references import unreachable_channels
from models.tables import ConversationReference, OutboxMessage
from tests.conftest import Chat
from tests.harness import ServerThread, wait_for
from tests.teams.conftest import DANA, DISPATCH, PARTNERS, POST_SR1, TOM, request_card, settle


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


GARBAGE = [
    "Bearer garbage",
    "Bearer a.b.c",
    "Bearer " + b64({"alg": "none"}) + "." + b64({"aud": "x"}) + ".",  # readable, but no issuer
    "Basic dXNlcjpwYXNz",
    "Bearer",
]


@pytest.mark.parametrize("header", GARBAGE)
def test_a_malformed_authorization_header_is_401_and_changes_nothing(teams, connector, surge, header):
    chat = Chat(surge.core)
    before = chat.state()
    status, _ = teams.post(teams.message(TOM, "claim SR-1"), headers={"Authorization": header})
    assert status == 401
    assert connector.calls == [] and chat.state() == before


def test_with_an_app_id_a_missing_token_is_401(db_url, clock, connector):
    from tests.teams.conftest import start_surge
    from tests.teams.fake_connector import Teams

    running = start_surge(db_url, clock, microsoft_app_id="00000000-0000-0000-0000-000000000001",
                          microsoft_app_password="not-a-placeholder-secret")
    try:
        teams = Teams(running.server.url, connector)
        assert teams.post(teams.message(TOM, "help"))[0] == 401
        assert teams.post(teams.message(TOM, "help"), headers={"Authorization": "Bearer garbage"})[0] == 401
        assert connector.calls == []
    finally:
        running.server.stop()
        running.core.db.dispose()


def test_emulator_mode_needs_no_token(teams):
    assert "claim" in teams.say(TOM, "help")[0].text


def test_bad_requests_are_4xx(teams):
    assert teams.post(b"not json")[0] == 400
    assert teams.post({"text": "no type"})[0] == 400
    req = urllib.request.Request(teams.url, data=b"x", method="POST", headers={"Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 415


def test_production_without_credentials_refuses_teams(db_url, caplog):
    cfg = Settings(_env_file=None, database_url=db_url, surge_env="production")
    assert cfg.teams_refusal and "MICROSOFT_APP_ID" in cfg.teams_refusal
    stack = compose(cfg)
    assert stack.teams is None and all(n.platform != "teams" for n in stack.notifiers)
    with caplog.at_level(logging.ERROR, logger="surge"):
        report_teams(cfg, stack)
    assert "Teams is off: SURGE_ENV=production needs MICROSOFT_APP_ID" in caplog.text
    server = ServerThread(lambda: build_server(stack.core, outbox=stack.outbox, teams=stack.teams)).start()
    try:
        req = urllib.request.Request(server.url + "/api/messages", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 404
    finally:
        server.stop()
        stack.core.db.dispose()


def test_incomplete_credentials_are_refused_in_any_environment():
    assert "MICROSOFT_APP_PASSWORD" in Settings(_env_file=None, microsoft_app_id="abc").teams_refusal
    tenant = Settings(_env_file=None, microsoft_app_id="abc", microsoft_app_password="pw",
                      microsoft_app_type="SingleTenant")
    assert "MICROSOFT_APP_TENANT_ID" in tenant.teams_refusal
    assert Settings(_env_file=None).teams_enabled and Settings(_env_file=None).teams_emulator


def refs(surge) -> list[ConversationReference]:
    with surge.core.db.session() as s:
        return list(s.exec(select(ConversationReference).order_by(ConversationReference.id)).all())


def test_references_are_stored_on_install_and_on_every_activity(teams, surge, connector):
    teams.install(channel=PARTNERS)
    teams.install(teams_id=DANA)
    teams.say(TOM, "help", channel=PARTNERS)  # a message in a thread of the channel
    teams.say(TOM, "help")
    rows = {r.conversation_id: r for r in refs(surge)}
    assert set(rows) == {PARTNERS, f"a:1on1-{DANA}", f"a:1on1-{TOM}"}
    assert rows[PARTNERS].channel_id == PARTNERS and rows[PARTNERS].kind == "channel"
    assert rows[PARTNERS].reference["conversation"]["id"] == PARTNERS  # not the thread
    assert rows[PARTNERS].service_url == connector.url and rows[PARTNERS].tenant_id == "tenant-0001"
    assert rows[f"a:1on1-{TOM}"].person_id is not None and rows[f"a:1on1-{TOM}"].user_id == TOM
    welcome = [c for c in connector.ok() if "Surge" in c.text and c.conversation == f"a:1on1-{DANA}"]
    assert welcome and "help" in welcome[0].text
    assert unreachable_channels(surge.core.db)[0].external_id == DISPATCH


def test_a_redelivered_message_changes_nothing(installed, connector, surge):
    body = installed.message(DANA, POST_SR1)
    assert installed.post(body)[0] == 201
    wait_for(lambda: request_card(connector, PARTNERS, 1), what="the card")
    settle(surge)
    chat = Chat(surge.core)
    before, calls = chat.state(), len(connector.calls)
    assert installed.post(body)[0] == 201  # Teams re-delivers after 15 s without an answer
    settle(surge)
    assert connector.calls[calls:] == []  # no second answer, no second card
    assert chat.state() == before


def test_a_channel_that_never_spoke_is_reported_then_reached(teams, connector, surge, caplog):
    with caplog.at_level(logging.WARNING, logger="surge"):
        report_teams(Settings(_env_file=None), surge.stack)
    assert f"Teams: channel {PARTNERS} (partners) has never spoken to Surge" in caplog.text
    teams.say(DANA, POST_SR1)

    def failed_row():
        with surge.core.db.session() as s:
            return s.exec(select(OutboxMessage).where(OutboxMessage.kind == "card",
                                                      OutboxMessage.last_error != "")).first()

    row = wait_for(failed_row, what="the card row to fail")
    assert "NotReachable" in row.last_error and "has never spoken to Surge" in row.last_error
    teams.install(channel=PARTNERS)
    teams.install(channel=DISPATCH)
    wait_for(lambda: request_card(connector, PARTNERS, 1), timeout=30, what="the card, once the channel is known")
    assert unreachable_channels(surge.core.db) == []


def test_status_tells_the_dispatcher_which_channel_never_spoke(teams, connector, surge):
    teams.install(channel=PARTNERS)  # the dispatch channel's team never added the app
    teams.say(DANA, POST_SR1)
    wait_for(lambda: request_card(connector, PARTNERS, 1), what="the partner card")
    (status,) = teams.say(DANA, "status SR-1")
    assert f"Teams channel {DISPATCH} (dispatch) has not spoken to Surge yet" in status.text
    assert "@mention Surge in the channel once" in status.text and PARTNERS not in status.text
    (partner_view,) = teams.say(TOM, "status SR-1")
    assert "has not spoken" not in partner_view.text
    teams.install(channel=DISPATCH)
    (status,) = teams.say(DANA, "status SR-1")
    assert "has not spoken" not in status.text
    wait_for(lambda: request_card(connector, DISPATCH, 1), timeout=30, what="the dispatch card, once it is known")


def test_each_kind_of_conversation_gets_its_own_welcome_and_a_probe_is_answered(teams, surge, connector):
    from tests.teams.fake_connector import BOT, TENANT, activity

    group = {"isGroup": True, "conversationType": "groupChat", "tenantId": TENANT, "id": "19:group@unq.gbl.spaces"}
    status, _ = teams.post(activity("conversationUpdate", teams.user(TOM), group, connector.url, membersAdded=[BOT],
                                    channelData={"tenant": {"id": TENANT}}))
    assert status in (200, 201, 202)
    teams.install(channel=PARTNERS)
    said = {c.conversation: c.text for c in wait_for(lambda: connector.ok() if len(connector.ok()) >= 2 else None,
                                                     what="two welcomes")}
    assert "@Surge help" in said[group["id"]] and "this channel" not in said[group["id"]]
    assert "this channel appear as cards" in said[PARTNERS]
    probe = urllib.request.Request(surge.server.url + "/api/messages", method="HEAD")
    with urllib.request.urlopen(probe) as resp:  # the Agents Playground checks the endpoint so
        assert resp.status == 200
