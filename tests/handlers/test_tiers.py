"""Tiers: a partner sees (`list`, `status`, its home page) and claims a request only once the request
is offered as wide as the partner's tier; home staff see everything. Fabrikam is tier 2 here."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from handlers.clock import run_due
from handlers.core import Surge
from handlers.home import home
from handlers.roster import load_roster
from handlers.types import Identity
from models.tables import Claim, Org, SurgeRequest
from tests.conftest import ROSTER, Chat

DANA, TOM, FRANK = "Dana Dispatch", "Tom Tech", "Frank Fabrikam"
TIER_TWO = ROSTER.read_text().replace("  - name: Fabrikam Tech\n    status: vetted\n",
                                      "  - name: Fabrikam Tech\n    status: vetted\n    tier: 2\n", 1)
POST = 'request "{title}" units=10 deadline=2027-03-10 pay=35 town=Mineola{more}'
NOT_OFFERED = "is not offered to your tier yet"


@pytest.fixture
def tiers(db, clock) -> Chat:
    """Contoso (tier 1) and Fabrikam (tier 2) are both ready to claim."""
    load_roster(db, TIER_TWO, now=clock())
    chat = Chat(Surge(db, home_timezone="America/New_York", clock=clock))
    chat.ok("Paula Admin", 'sign "Paula Admin"')
    chat.ok(TOM, "guidelines ack")
    chat.ok(FRANK, "guidelines ack")
    return chat


def post(chat: Chat, title: str, more: str = "") -> None:
    chat.ok(DANA, POST.format(title=title, more=more))


def units_taken(chat: Chat, request_id: int) -> int:
    with chat.core.db.session() as s:
        return s.get(SurgeRequest, request_id).units_taken


def test_the_roster_gives_each_partner_its_tier(tiers):
    with tiers.core.db.session() as s:
        assert {o.name: o.tier for o in s.exec(select(Org)).all()} == {
            "Long Island IT": 1, "Contoso Field Services": 1, "Fabrikam Tech": 2}


def test_a_tier_one_request_is_hidden_from_and_refused_to_a_tier_two_partner(tiers):
    post(tiers, "First wave")
    assert "No open requests" in tiers.ok(FRANK, "list").text
    assert NOT_OFFERED in tiers.refused(FRANK, "status SR-1").text
    reply = tiers.refused(FRANK, "claim SR-1 2")
    assert NOT_OFFERED in reply.text and "Fabrikam Tech is tier 2" in reply.text
    assert NOT_OFFERED in tiers.refused(FRANK, "claim SR-1").text
    page = tiers.core.view(Identity(platform="console", user_id=FRANK), home)
    assert "First wave" not in page.model_dump_json()
    # ...while the tier-1 partner and home staff see it
    assert "First wave" in tiers.ok(TOM, "list").text
    assert "First wave" in tiers.ok(DANA, "list").text
    tiers.ok(TOM, "claim SR-1 4")
    assert units_taken(tiers, 1) == 4


def test_a_request_posted_at_tier_two_is_open_to_tiers_one_and_two(tiers):
    post(tiers, "Wide wave", " tier=2")
    assert "Wide wave" in tiers.ok(FRANK, "list").text and "Wide wave" in tiers.ok(TOM, "list").text
    tiers.ok(FRANK, "status SR-1")
    tiers.ok(FRANK, "claim SR-1 3")
    tiers.ok(TOM, "claim SR-1 2")
    with tiers.core.db.session() as s:
        assert sorted((c.person_id, c.units) for c in s.exec(select(Claim)).all()) == [(4, 2), (5, 3)]


def test_the_clock_widening_a_request_opens_it_to_the_next_tier(tiers, clock):
    post(tiers, "First wave", " delay=30")
    tiers.refused(FRANK, "claim SR-1 3")
    clock.advance(minutes=29)
    assert not [k for k in run_due(tiers.core.db, clock.now, home_timezone="America/New_York") if "widen" in k]
    tiers.refused(FRANK, "claim SR-1 3")
    clock.advance(minutes=2)
    assert "widen:1:2" in run_due(tiers.core.db, clock.now, home_timezone="America/New_York")
    assert "First wave" in tiers.ok(FRANK, "list").text
    tiers.ok(FRANK, "claim SR-1 3")
    assert units_taken(tiers, 1) == 3


def test_a_claim_keeps_its_status_view_for_the_claimant(tiers):
    post(tiers, "Wide wave", " tier=2")
    tiers.ok(FRANK, "claim SR-1 3")
    reply = tiers.ok(FRANK, "status SR-1")
    assert "Your claims" in reply.text


def test_a_partner_tier_with_no_channel_of_its_own_is_still_widened_to(db, clock):
    roster = TIER_TWO.replace("    tier: 2\n", "    tier: 3\n", 1)
    load_roster(db, roster, now=clock())
    chat = Chat(Surge(db, home_timezone="America/New_York", clock=clock))
    chat.ok(FRANK, "guidelines ack")
    post(chat, "First wave", " delay=30")
    clock.advance(minutes=31)
    run_due(db, clock.now, home_timezone="America/New_York")  # to tier 2 (the Teams partner channel)
    assert NOT_OFFERED in chat.refused(FRANK, "claim SR-1 1").text
    clock.advance(minutes=30)
    assert "widen:1:3" in run_due(db, clock.now + timedelta(seconds=1), home_timezone="America/New_York")
    chat.ok(FRANK, "claim SR-1 1")
