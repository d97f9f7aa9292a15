"""With SLACK_APP_TOKEN, Surge talks to Slack over Socket Mode: no public URL, same answers."""
from __future__ import annotations

from bot.config import Settings
from bot.main import _socket_mode, compose
from bot.server import build_server
from handlers.roster import load_roster
from tests.conftest import ROSTER
from tests.harness import ServerThread, wait_for
from tests.slack.fake_slack import FakeSlack


def test_a_slash_command_over_socket_mode_is_acknowledged_then_answered(db_url):
    fake = FakeSlack()
    fake.envelopes.append({
        "envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
        "payload": {"command": "/surge", "text": "help claim", "user_id": "U0TOM", "channel_id": "C0PARTNERS",
                    "team_id": "T0SURGE", "trigger_id": "t.1", "response_url": None},
    })
    fake.start()
    fake.envelopes[-1]["payload"]["response_url"] = fake.response_url("socket-cmd")
    cfg = Settings(_env_file=None, database_url=db_url, slack_bot_token="xoxb-test", slack_app_token="xapp-test",
                   slack_api_url=fake.api_url)
    stack = compose(cfg)
    load_roster(stack.core.db, ROSTER.read_text())

    def app():
        server = build_server(stack.core, outbox=stack.outbox)  # no /slack/events: nothing public
        server.cleanup_ctx.append(_socket_mode(stack.slack_app, cfg.slack_app_token))
        return server

    server = ServerThread(app).start()
    try:
        [ack] = wait_for(lambda: fake.sent("socket"), what="the Socket Mode acknowledgement")
        assert ack["envelope_id"] == "env-1"
        assert ack["envelope_id"] == "env-1" and not ack.get("payload")  # acknowledged before the core ran
        [answer] = wait_for(lambda: fake.sent("respond/socket-cmd"), what="the answer through response_url")
        assert answer["response_type"] == "ephemeral" and "claim SR-7 12" in str(answer)
        assert fake.sent("apps.connections.open")
    finally:
        server.stop()
        fake.stop()
        stack.core.db.dispose()
