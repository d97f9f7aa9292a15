"""Fixtures: Surge's real server (compose + build_server) on a local port with Teams in emulator mode,
a fake Bot Connector that records what Surge sent, and `teams`, which speaks to Surge as Teams does.

The roster is examples/roster.yml plus Teams ids for Paula and Morgan and a Teams dispatch channel,
so every audience has a Teams home. Reusable by cross-platform tests (import these fixtures).
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import yaml

from bot.config import Settings
from bot.main import Stack, compose
from bot.server import build_server
from handlers.roster import load_roster
from tests.conftest import ROSTER
from tests.harness import ServerThread, wait_for
from tests.teams.fake_connector import FakeConnector, Teams

DANA, TOM, PAULA, FRANK, MORGAN = "29:1dana", "29:1tom", "29:1paula", "29:1frank", "29:1morgan"
PARTNERS = "19:partners@thread.tacv2"  # tier 2, as in examples/roster.yml
DISPATCH = "19:dispatch@thread.tacv2"
SECRETS = ["Acme Dental", "12 Main St", "Ann Lee", "516-555-0101"]
POST_SR1 = ('request "DST patch, Main St office" units=40 deadline=2027-03-10 pay=35 bill=60 minutes=30 tier=2 '
            'town=Hicksville customer="Acme Dental" site="12 Main St, Hicksville" contact="Ann Lee 516-555-0101" '
            "skills=windows")


def teams_roster() -> str:
    data = yaml.safe_load(ROSTER.read_text(encoding="utf-8"))
    ids = {"Paula Admin": PAULA, "Morgan Manager": MORGAN}
    for person in data["people"]:
        person.setdefault("teams", ids.get(person["name"]))
    data["channels"].append({"platform": "teams", "id": DISPATCH, "purpose": "dispatch"})
    return yaml.safe_dump(data, sort_keys=False)


@pytest.fixture
def connector():
    fake = FakeConnector().start()
    yield fake
    fake.stop()


@dataclass
class Running:
    stack: Stack
    server: ServerThread

    @property
    def core(self):
        return self.stack.core


def start_surge(db_url: str, clock, roster: str | None = None, **settings) -> Running:
    """Surge as `surge serve` composes it (Teams in emulator mode unless settings say otherwise)."""
    cfg = Settings(_env_file=None, database_url=db_url, surge_timezone="America/New_York", **settings)
    stack = compose(cfg)
    stack.core.clock = clock
    load_roster(stack.core.db, roster if roster is not None else teams_roster(), now=clock())
    slack = stack.slack_app if cfg.slack_enabled and not cfg.slack_app_token else None  # as `surge serve` mounts it
    server = ServerThread(lambda: build_server(stack.core, outbox=stack.outbox, slack_app=slack,
                                               teams=stack.teams)).start()
    return Running(stack=stack, server=server)


@pytest.fixture
def surge(db_url, clock, connector):
    """Surge, started after (so stopped before) the fake connector it sends to."""
    running = start_surge(db_url, clock)
    yield running
    assert_partner_conversations_kept_private(running, connector)
    running.server.stop()
    running.core.db.dispose()


def assert_partner_conversations_kept_private(running: Running, connector) -> None:
    """The privacy watch: nothing that reached a Teams partner channel names any request's customer,
    site or contact (every test on this fixture ends with it)."""
    from sqlmodel import select

    from models.tables import Channel, SurgeRequest

    with running.core.db.session() as s:
        partners = {c.external_id for c in s.exec(select(Channel).where(Channel.platform == "teams",
                                                                          Channel.purpose == "partners"))}
        secrets = {v for r in s.exec(select(SurgeRequest)) for v in (r.customer, r.site, r.contact) if len(v) > 3}
    for call in connector.calls:
        if (call.conversation or "").split(";")[0] in partners:
            leaked = [v for v in secrets if v in call.text or v in call.strings]
            assert not leaked, f"{call.kind} to partner channel {call.conversation} named {leaked}"


@pytest.fixture
def teams(surge, connector) -> Teams:
    return Teams(surge.server.url, connector)


@pytest.fixture
def installed(teams) -> Teams:
    """The app is in the partners' and dispatch's teams, so Surge can post into both channels."""
    teams.install(channel=PARTNERS)
    teams.install(channel=DISPATCH)
    return teams


@pytest.fixture
def posted(installed, connector) -> Teams:
    """Dana posted SR-1 (40 units, tier 2): its card is in the partner and the dispatch channel."""
    installed.say(DANA, POST_SR1)
    wait_for(lambda: request_card(connector, PARTNERS, 1) and request_card(connector, DISPATCH, 1),
             what="SR-1's cards")
    return installed


def request_card(connector, conversation: str, request_id: int):
    """The post of request SR-n's card in a channel (its call), if there is one."""
    return next((c for c in connector.in_conversation(conversation, "post")
                 if f"SR-{request_id} ·" in c.text), None)


def outbox_idle(core) -> bool:
    """Nothing left for the outbox to deliver (sent or given up)."""
    from sqlmodel import select

    from models.tables import OutboxMessage

    with core.db.session() as s:
        return not s.exec(select(OutboxMessage).where(OutboxMessage.status.in_(["pending", "sending"]))).first()


def settle(surge) -> None:
    wait_for(lambda: outbox_idle(surge.core), what="the outbox to deliver everything")
