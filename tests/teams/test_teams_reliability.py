"""The edge under stress: the connector throttles (429) or fails (5xx), cards with long input, and the
privacy promise: nothing in a partner channel names the customer, the site or the contact."""
from __future__ import annotations

import json
import time

from sqlmodel import select

from models.tables import OutboxMessage
from tests.harness import wait_for
from tests.teams.conftest import (
    DANA,
    DISPATCH,
    FRANK,
    PARTNERS,
    PAULA,
    POST_SR1,
    SECRETS,
    TOM,
    request_card,
    settle,
    start_surge,
    teams_roster,
)
from tests.teams.fake_connector import Teams, button, card_of


def test_a_429_is_retried_after_retry_after(installed, connector, surge):
    connector.fail_next(429, retry_after="1", conversation=PARTNERS)
    started = time.monotonic()
    installed.say(DANA, POST_SR1)
    wait_for(lambda: request_card(connector, PARTNERS, 1), what="the card after the throttle")
    calls = [c for c in connector.calls if c.conversation == PARTNERS and "SR-1 ·" in c.text]
    assert [c.answered for c in calls] == [429, 200]
    assert time.monotonic() - started >= 1.0
    settle(surge)
    assert len(connector.in_conversation(PARTNERS, "post")) == 2  # the welcome and one card: no duplicate


def test_5xx_on_an_update_is_retried_with_backoff(posted, connector, surge):
    surge.stack.teams.notifier.retry_base = 0.05
    connector.fail_next(500, times=2, conversation=PARTNERS, method="PUT")
    posted.say(FRANK, "guidelines ack")
    posted.say(FRANK, "claim SR-1 10")
    post = request_card(connector, PARTNERS, 1)
    wait_for(lambda: "30 of 40 units left" in str(connector.latest_card(PARTNERS, post.created_id)),
             what="the update after two 500s")
    puts = [c for c in connector.calls if c.conversation == PARTNERS and c.method == "PUT"]
    assert [c.answered for c in puts] == [500, 500, 200]  # ours alone: botbuilder's own PUT retries are off


def test_when_retries_give_up_the_outbox_row_waits_and_is_delivered_later(posted, connector, surge):
    surge.stack.teams.notifier.retry_base = 0.01
    connector.fail_next(503, times=4, conversation=PARTNERS, method="PUT")
    posted.say(FRANK, "guidelines ack")
    posted.say(FRANK, "claim SR-1 7")

    def failed():
        with surge.core.db.session() as s:
            gave_up = OutboxMessage.last_error.contains("HTTP 503 after 4 attempt")
            return s.exec(select(OutboxMessage).where(OutboxMessage.kind == "card", gave_up)).first()

    row = wait_for(failed, what="a card row that failed with 503")
    assert row.status in ("pending", "sent")
    post = request_card(connector, PARTNERS, 1)
    wait_for(lambda: "33 of 40 units left" in str(connector.latest_card(PARTNERS, post.created_id)), timeout=30,
             what="the update on the outbox's next attempt")


def test_a_long_agreement_keeps_the_sign_form_under_the_size_limit(db_url, clock, connector):
    import yaml

    data = yaml.safe_load(teams_roster())
    data["agreement"]["text"] = "The partner shall not solicit any customer or employee. " * 4000  # ~224 KB
    running = start_surge(db_url, clock, roster=yaml.safe_dump(data))
    try:
        teams = Teams(running.server.url, connector)
        form = teams.say(PAULA, "sign")[0]
        assert len(json.dumps(form.body).encode()) < 80_000
        assert "more than a Teams card holds" in form.text
        assert button(form.card, "Sign")["verb"] == "surge.submit"
    finally:
        running.server.stop()
        running.core.db.dispose()


def test_long_input_stays_under_the_limit_everywhere(installed, connector, surge):
    scope = "Patch every workstation; check the BIOS; " * 48  # the longest scope the grammar takes
    installed.say(DANA, POST_SR1.replace("skills=windows", f'skills=windows scope="{scope[:1990]}"'))
    card = wait_for(lambda: request_card(connector, PARTNERS, 1), what="the card")
    assert len(card.text.encode()) < 80_000
    reply = installed.say(DANA, "audit SR-1")[0]
    assert len(reply.text.encode()) < 80_000


def test_privacy_scan_of_every_partner_channel_card(posted, connector, surge):
    post = request_card(connector, PARTNERS, 1)
    # a whole job, by text and by clicks, in chat and in the partner channel
    posted.click(FRANK, button(post.card, "Claim all"), channel=PARTNERS, card_id=post.created_id)
    posted.say(FRANK, "guidelines ack", channel=PARTNERS)
    _, answer, _ = posted.click(FRANK, button(post.card, "Claim some"), channel=PARTNERS, card_id=post.created_id)
    posted.click(FRANK, button(card_of(answer), "Claim"), inputs={"units": 12}, channel=PARTNERS,
                 card_id=post.created_id)
    posted.say(PAULA, 'sign "Paula Admin"', channel=PARTNERS)
    posted.say(TOM, "guidelines ack")
    posted.say(TOM, "claim SR-1 5", channel=PARTNERS)
    posted.say(FRANK, "start SR-1", channel=PARTNERS)
    posted.say(FRANK, "status SR-1", channel=PARTNERS)  # a claimant's status names the site: sent privately
    posted.say(FRANK, 'problem SR-1 "UPS alarm"')
    posted.say(FRANK, 'lead SR-1 "wants laptops"', channel=PARTNERS)
    posted.say(FRANK, "done SR-1 10", channel=PARTNERS)
    posted.say(DANA, f"verify SR-1 {FRANK}", channel=DISPATCH)
    posted.say(TOM, "list", channel=PARTNERS)
    posted.say(FRANK, "status SR-1", channel=PARTNERS)  # verified: nothing private left to show
    posted.say(DANA, 'cancel SR-1 "weather"')
    settle(surge)
    partner_calls = connector.in_conversation(PARTNERS)
    assert len(partner_calls) > 10
    for call in partner_calls:
        for secret in SECRETS:
            assert secret not in call.strings, f"{secret!r} reached the partner channel: {call.kind} {call.path}"
    assert any("sent it to you in our one-to-one chat" in c.text for c in partner_calls)
    dms = connector.dms_to(FRANK)
    assert any("Acme Dental" in c.text and "SR-1" in c.text for c in dms)
    dispatch = connector.in_conversation(DISPATCH)
    assert any("Acme Dental" in c.text for c in dispatch)


def test_the_connector_clients_retry_policy_keeps_its_codes():
    """Surge makes msrest's per-client retry policy cheap to build; the codes it retries stay the same."""
    from msrest.universal_http.requests import ClientRetryPolicy

    import bot.teams.connector  # noqa: F401 - applies the change

    assert ClientRetryPolicy().policy.status_forcelist == [408, 500] + list(range(502, 505)) + list(range(506, 999))
