"""The chat commands, typed to Surge in Teams (1:1 or with an @mention in a channel), end to end:
real activities over HTTP to the running server; what Teams received, read from the fake connector."""
from __future__ import annotations

from tests.harness import wait_for
from tests.teams.conftest import (
    DANA,
    DISPATCH,
    FRANK,
    MORGAN,
    PARTNERS,
    PAULA,
    POST_SR1,
    SECRETS,
    TOM,
    request_card,
    settle,
)
from tests.teams.fake_connector import buttons


def said(replies) -> str:
    assert len(replies) == 1, f"expected one reply, got {len(replies)}"
    return replies[0].text


def card_now(connector, conversation: str, request_id: int = 1) -> str:
    post = request_card(connector, conversation, request_id)
    return str(connector.latest_card(conversation, post.created_id))


def test_help_and_unknown_people(teams):
    assert "claim" in said(teams.say(TOM, "help"))
    assert "not on this Surge roster" in said(teams.say("29:stranger", "list"))
    assert "I don't know the command “frobnicate”" in said(teams.say(TOM, "frobnicate SR-1"))


def test_dispatcher_posts_and_the_card_reaches_every_channel(posted, connector):
    partner = request_card(connector, PARTNERS, 1)
    dispatch = request_card(connector, DISPATCH, 1)
    assert "40 of 40 units left" in partner.text and "Hicksville" in partner.text
    assert [b["title"] for b in buttons(partner.card)] == ["Claim all 40", "Claim some…", "Details"]
    assert all(b["verb"] == "surge.run" for b in buttons(partner.card))
    assert partner.card["version"] == "1.5"
    for secret in SECRETS:
        assert secret not in partner.text
        assert secret in dispatch.text or secret == "12 Main St"  # the dispatch copy is private
    assert "Acme Dental" in dispatch.text


def test_a_channel_mention_is_stripped_and_answered_in_the_thread(posted, connector):
    replies = posted.say(DANA, "list", channel=DISPATCH)
    assert "SR-1" in said(replies)
    assert replies[0].conversation.startswith(DISPATCH + ";messageid=")  # a reply in the message's thread
    assert "&lt;at&gt;" not in said(replies) and "<at>" not in said(replies)


def test_gates_then_claim_then_the_whole_job(posted, connector, surge):
    # Tom's company has not signed: he is told who can sign
    refused = said(posted.say(TOM, "claim SR-1 12"))
    assert "hasn't signed" in refused and "Paula Admin" in refused
    # Paula reads and signs in Teams
    assert "Sign" in said(posted.say(PAULA, "agreement"))
    assert "Signed" in said(posted.say(PAULA, 'sign "Paula Admin"'))
    # Tom must acknowledge the guidelines first
    gate = said(posted.say(TOM, "claim SR-1 12"))
    assert "acknowledge" in gate and "I acknowledge" in gate
    assert "acknowledged" in said(posted.say(TOM, "guidelines ack"))
    assert "You have 12 units of SR-1" in said(posted.say(TOM, "claim SR-1 12"))
    # every copy of the card updates in place; Tom's DM has the private job details
    wait_for(lambda: "28 of 40 units left" in card_now(connector, PARTNERS), what="the partner card update")
    wait_for(lambda: "Tom Tech" in card_now(connector, DISPATCH), what="the dispatch card update")
    posted_id = request_card(connector, PARTNERS, 1).created_id
    assert connector.in_conversation(PARTNERS, "update")[-1].activity_id == posted_id
    job = wait_for(lambda: [c for c in connector.dms_to(TOM) if "Your job: SR-1" in c.text], what="Tom's job DM")
    for secret in ("Acme Dental", "12 Main St, Hicksville", "Ann Lee 516-555-0101", "Introducing yourself"):
        assert secret in job[0].text
    assert "Check in" in [b["title"] for b in buttons(job[0].card)]
    # on site, done, a lead, verified
    assert "Checked in" in said(posted.say(TOM, "start SR-1"))
    assert "Reported 10 units" in said(posted.say(TOM, 'done SR-1 10 notes="two machines offline"'))
    assert "lead" in said(posted.say(TOM, 'lead SR-1 "wants five new laptops"')).lower()
    assert "Verified" in said(posted.say(DANA, f"verify SR-1 {TOM}"))  # a Teams id, as a mention gives
    wait_for(lambda: "10 of 40" in card_now(connector, DISPATCH), what="verified units on the dispatch card")
    history = said(posted.say(DANA, "audit SR-1"))
    assert "claim.taken" in history and "claim.verified" in history
    settle(surge)


def test_a_person_mentioned_in_a_channel_is_resolved(posted, connector, surge):
    posted.say(FRANK, "guidelines ack")
    posted.say(FRANK, "claim SR-1 5")
    posted.say(FRANK, "done SR-1 5")
    body = posted.message(DANA, "", channel=DISPATCH)
    body["text"] = "<at>Surge</at> verify SR-1 <at>Frank Fabrikam</at>"
    body["entities"] = [{"type": "mention", "mentioned": {"id": "28:surge-bot", "name": "Surge"},
                         "text": "<at>Surge</at>"},
                        {"type": "mention", "mentioned": {"id": FRANK, "name": "Frank Fabrikam"},
                         "text": "<at>Frank Fabrikam</at>"}]
    status, _ = posted.post(body)
    assert status == 201
    reply = [c for c in connector.ok() if c.kind == "reply" and c.activity_id == body["id"]]
    assert "Verified" in said(reply) and "Frank Fabrikam" in said(reply)


def test_release_cancel_problem_and_the_tech_is_told(posted, connector, surge):
    posted.say(FRANK, "guidelines ack")
    posted.say(FRANK, "claim SR-1 10")
    assert "Released 4 units" in said(posted.say(FRANK, "release SR-1 4"))
    wait_for(lambda: "34 of 40 units left" in card_now(connector, PARTNERS), what="units back on the card")
    assert "problem" in said(posted.say(FRANK, 'problem SR-1 "server room locked"')).lower()
    wait_for(lambda: any("server room locked" in c.text for c in connector.in_conversation(DISPATCH, "post")),
             what="the problem in dispatch")
    assert "Cancelled SR-1" in said(posted.say(DANA, 'cancel SR-1 "customer postponed"'))
    wait_for(lambda: "Cancelled" in card_now(connector, PARTNERS), what="the cancelled card")
    assert not buttons(connector.latest_card(PARTNERS, request_card(connector, PARTNERS, 1).created_id))[:-1]
    wait_for(lambda: any("customer postponed" in c.text for c in connector.dms_to(FRANK)), what="Frank told")


def test_approval_requests_and_manager_commands(installed, connector, surge):
    installed.say(DANA, POST_SR1 + " approval=yes")
    wait_for(lambda: request_card(connector, PARTNERS, 1), what="SR-1's card")
    installed.say(FRANK, "guidelines ack")
    assert "approves claims" in said(installed.say(FRANK, "claim SR-1 6"))
    ask = wait_for(lambda: [c for c in connector.in_conversation(DISPATCH, "post") if "asks for 6 units" in c.text],
                   what="the approval request in dispatch")
    assert [b["title"] for b in buttons(ask[0].card)] == ["Approve", "Reject"]
    assert "Approved" in said(installed.say(DANA, 'approve SR-1 "Frank Fabrikam"'))
    wait_for(lambda: [c for c in connector.dms_to(FRANK) if "Your job: SR-1" in c.text], what="Frank's job DM")
    assert "Fabrikam Tech" in said(installed.say(MORGAN, "partners"))
    assert "Fabrikam Tech is suspended" in said(installed.say(MORGAN, 'suspend "Fabrikam Tech"'))
    assert "Fabrikam Tech is suspended, so its people can't claim" in said(installed.say(FRANK, "claim SR-1 1"))
    assert "margin" in said(installed.say(MORGAN, "digest"))
    assert "Shortfall" in said(installed.say(DANA, "capacity units=600 minutes=30 techs=4 hours=6 by=2027-03-10"))
    assert "Only dispatchers can use `approve`" in said(installed.say(TOM, "approve SR-1 Frank"))
