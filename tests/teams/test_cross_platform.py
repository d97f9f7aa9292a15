"""Slack and Teams at once, on one Surge server: a request posted from Slack is claimed from both
platforms, and every copy of its card, on both, ends the same; a person with a Slack and a Teams id
is one person, whichever platform they speak from.

The server is composed as `surge serve` composes it (Slack over HTTP, Teams in emulator mode); Slack's
Web API is the local FakeSlack, the Bot Connector the local FakeConnector.
"""
from __future__ import annotations

import json

import pytest
from sqlmodel import select

from models.tables import Claim, Person, SurgeRequest
from tests.harness import wait_for
from tests.slack.conftest import SECRET, SlackRig, assert_partner_channels_kept_private
from tests.slack.fake_slack import FakeSlack
from tests.teams.conftest import (
    DISPATCH,
    FRANK,
    PARTNERS,
    PAULA,
    SECRETS,
    TOM,
    request_card,
    settle,
    start_surge,
)
from tests.teams.fake_connector import Teams, button, card_of

SLACK_PARTNERS, SLACK_DISPATCH = "C0PARTNERS", "C0DISPATCH"  # tier 1 and dispatch, as in examples/roster.yml
POST = ('request "DST patch, Main St office" units=40 deadline=2027-03-10 pay=35 bill=60 tier=2 town=Hicksville '
        'customer="Acme Dental" site="12 Main St, Hicksville" contact="Ann Lee 516-555-0101"')


class Both:
    """One Surge, spoken to from Slack (`slack`) and from Teams (`teams`)."""

    def __init__(self, running, slack: SlackRig, teams: Teams):
        self.running, self.slack, self.teams = running, slack, teams
        self.connector = teams.connector

    def teams_card(self, channel: str) -> str:
        """The Teams copy of SR-1's card in a channel, as it shows now."""
        post = request_card(self.connector, channel, 1)
        return json.dumps(self.connector.latest_card(channel, post.created_id), ensure_ascii=False) if post else ""

    def slack_card(self, channel: str) -> str:
        """The Slack copy of SR-1's card in a channel, as it shows now: its newest update, or its post."""
        copies = [c for c in self.slack.fake.sent("chat.postMessage", channel=channel) if "SR-1 ·" in c["text"]]
        copies += [c for c in self.slack.fake.sent("chat.update", channel=channel) if "SR-1 ·" in c["text"]]
        return self.slack.fake.text_of(copies[-1]) if copies else ""

    def every_copy(self) -> dict[str, str]:
        return {"slack partners": self.slack_card(SLACK_PARTNERS), "slack dispatch": self.slack_card(SLACK_DISPATCH),
                "teams partners": self.teams_card(PARTNERS), "teams dispatch": self.teams_card(DISPATCH)}

    def claims(self) -> dict[str, list[int]]:
        """Each claimant's claim records on SR-1: their units."""
        with self.running.core.db.session() as s:
            rows = s.exec(select(Claim, Person).join(Person, Person.id == Claim.person_id)
                          .where(Claim.request_id == 1).order_by(Claim.id)).all()
            out: dict[str, list[int]] = {}
            for claim, person in rows:
                out.setdefault(person.name, []).append(claim.units)
            return out


@pytest.fixture
def both(db_url, clock, connector) -> Both:
    fake = FakeSlack().start()
    running = start_surge(db_url, clock, slack_bot_token="xoxb-test-token", slack_signing_secret=SECRET,
                          slack_api_url=fake.api_url)
    assert [n.platform for n in running.stack.notifiers] == ["slack", "teams"]  # as `surge serve` composes them
    for notifier in running.stack.notifiers:
        notifier.interval = 0.01  # the fakes do not enforce the platforms' pace
    rig = SlackRig(fake=fake, server=running.server, stack=running.stack)
    teams = Teams(running.server.url, connector)
    teams.install(channel=PARTNERS)
    teams.install(channel=DISPATCH)
    yield Both(running, rig, teams)
    assert_partner_channels_kept_private(rig)
    for call in connector.in_conversation(PARTNERS):
        assert not [secret for secret in SECRETS if secret in call.text], "a Teams partner card named the customer"
    running.server.stop()
    fake.stop()
    running.core.db.dispose()


def post_from_slack(both: Both) -> None:
    """Dana posts SR-1 (tier 2) with `/surge request …`; its card reaches every channel on both platforms."""
    answer = both.slack.command("U0DANA", POST, channel=SLACK_DISPATCH)
    assert answer.status == 200 and "Posted *SR-1*" in answer.text
    wait_for(lambda: all("40 of 40 units left" in card for card in both.every_copy().values()),
             what="SR-1's card in the Slack and Teams partner and dispatch channels")


def test_a_slack_request_claimed_from_teams_and_slack_ends_the_same_everywhere(both):
    post_from_slack(both)
    copies = both.every_copy()
    assert "Hicksville" in copies["teams partners"] and "Acme Dental" not in copies["teams partners"]
    assert "Acme Dental" in copies["teams dispatch"] and "Acme Dental" in copies["slack dispatch"]

    # Frank, a Fabrikam tech on Teams only, clicks "Claim some…" on the Teams card and asks for 10
    assert "acknowledged" in both.teams.say(FRANK, "guidelines ack")[0].text
    post = request_card(both.connector, PARTNERS, 1)
    _, answer, _ = both.teams.click(FRANK, button(post.card, "Claim some"), channel=PARTNERS, card_id=post.created_id)
    _, answer, _ = both.teams.click(FRANK, button(card_of(answer), "Claim"), inputs={"units": 10}, channel=PARTNERS,
                                    card_id=post.created_id)
    assert "You have 10 units of SR-1" in json.dumps(card_of(answer))

    # Tom, a Contoso tech, claims 12 with `/surge claim` in Slack, once Paula has signed for Contoso
    assert "Signed" in both.slack.command("U0PAULA", 'sign "Paula Admin"').text
    assert "acknowledged" in both.slack.command("U0TOM", "guidelines ack").text
    assert "You have 12 units of SR-1" in both.slack.command("U0TOM", "claim SR-1 12").text

    # every copy, on both platforms, is updated in place to what is left: 40 − 10 − 12
    wait_for(lambda: all("18 of 40 units left" in card for card in both.every_copy().values()),
             what="every copy of SR-1's card to show 18 left")
    assert both.slack.fake.sent("chat.update", channel=SLACK_PARTNERS)  # updated, not posted again
    assert len([c for c in both.connector.in_conversation(PARTNERS, "post") if "SR-1 ·" in c.text]) == 1
    assert [c for c in both.connector.in_conversation(PARTNERS, "update") if "18 of 40 units left" in c.text]
    assert "Frank Fabrikam" in both.every_copy()["slack dispatch"] and "Tom Tech" in both.every_copy()["teams dispatch"]
    assert both.claims() == {"Frank Fabrikam": [10], "Tom Tech": [12]}
    with both.running.core.db.session() as s:
        assert s.get(SurgeRequest, 1).units_taken == 22

    # each job's details go to the claimant where Surge reaches them: Frank in Teams, Tom in Slack (first)
    wait_for(lambda: [c for c in both.connector.dms_to(FRANK) if "Your job: SR-1" in c.text], what="Frank's job DM")
    dm = wait_for(lambda: [c for c in both.slack.fake.sent("chat.postMessage", channel="U0TOM")
                           if "Acme Dental" in both.slack.fake.text_of(c)], what="Tom's job DM in Slack")
    assert len(dm) == 1
    settle(both.running)
    assert not [c for c in both.connector.dms_to(TOM) if "Your job" in c.text]


def test_a_person_with_a_slack_and_a_teams_id_is_one_person(both):
    post_from_slack(both)
    assert "Signed" in both.teams.say(PAULA, 'sign "Paula Admin"')[0].text  # Paula signs from Teams
    assert "acknowledged" in both.slack.command("U0TOM", "guidelines ack").text  # Tom acknowledges in Slack…
    claimed = both.teams.say(TOM, "claim SR-1 5")[0].text  # …and claims in Teams: no gate asks again
    assert "You have 5 units of SR-1" in claimed

    status = both.slack.command("U0TOM", "status SR-1", channel="D0TOM").text  # Slack knows his Teams claim
    assert "Your claims" in status and "5 units" in status and "Acme Dental" in status
    assert "You have 8 units of SR-1" in both.slack.command("U0TOM", "claim SR-1 3").text
    assert both.claims() == {"Tom Tech": [8]}  # one claim, grown: one person
    wait_for(lambda: all("32 of 40 units left" in card for card in both.every_copy().values()),
             what="every copy of SR-1's card to show 32 left")
    teams_status = both.teams.say(TOM, "status SR-1")[0].text
    assert "8 units" in teams_status and "Your claims" in teams_status
