"""Keeping a posted request in hand: `edit`, `reopen`, `widen`; every time in the reader's zone.

SR-1 of `ready`: 40 units due Wed 10 Mar 2027 17:00 New York, pay $35, bill $60, customer Acme Dental,
site 12 Main St, Hicksville, contact Ann Lee. Contoso (Tom) is tier 1; the example roster has a Teams
partner channel at tier 2.
"""
from __future__ import annotations

import asyncio
import re
from collections import Counter

import yaml
from sqlmodel import select

from bot.outbox import Outbox
from handlers.clock import run_due
from handlers.core import Surge
from handlers.roster import load_roster
from handlers.types import Message
from handlers.views import request_cards
from models.tables import AuditEntry, Claim, SurgeRequest
from tests.conftest import ROSTER, Chat, dms_to
from tests.models.test_concurrency import TECHS, crew, race  # noqa: F401 - crew is a fixture

DANA, TOM, PAULA = "Dana Dispatch", "Tom Tech", "Paula Admin"


def request_row(chat: Chat, rid: int = 1) -> SurgeRequest:
    with chat.core.db.session() as s:
        return s.get(SurgeRequest, rid)


def audits(chat: Chat, action: str) -> list[AuditEntry]:
    with chat.core.db.session() as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


def cards(chat: Chat) -> list[tuple[int, str]]:
    return [(m.payload["request_id"], m.payload["change"]) for m in chat.outbox() if m.kind == "card"]


def facts(message: dict) -> dict[str, str]:
    return {f["label"]: f["value"] for f in message["fields"]}


# -- edit -----------------------------------------------------------------------------------------

def test_an_edit_changes_the_request_updates_every_card_and_says_what_changed(ready):
    before = len(cards(ready))
    reply = ready.ok(DANA, "edit SR-1 units=30 deadline=2027-03-12 minutes=45 skills=windows,printers")
    assert "units 30 (was 40)" in reply.text and "Fri 12 Mar 2027 17:00 EST" in reply.text
    assert "minutes per unit 45 (was 30)" in reply.text and "skills windows, printers" in reply.text
    assert cards(ready)[before:] == [(1, "update")]
    status = ready.ok(TOM, "status SR-1").text
    assert "30 of 30 units left" in status
    req = request_row(ready)
    assert (req.units, req.minutes_per_unit, req.skills) == (30, 45, ["windows", "printers"])
    [row] = audits(ready, "request.edited")
    assert row.detail["changed"] == "units, deadline, minutes_per_unit, skills"
    assert row.detail["request_units"] == "40 → 30" and row.units == 30


def test_claimants_are_told_what_changed_for_them_in_their_zone(ready):
    ready.ok(TOM, "claim SR-1 5")
    reply = ready.ok(DANA, 'edit SR-1 deadline=2027-03-11T12:00 site="14 Oak Ave, Hicksville" pay=40')
    assert "Told Tom Tech" in reply.text and "applies to later claims" in reply.text
    [dm] = [m for m in dms_to(ready, TOM) if "has changed" in (m["title"] or "")]
    got = facts(dm)
    assert got["Deadline"] == "Thu 11 Mar 2027 12:00 EST"
    assert got["Site"] == "14 Oak Ave, Hicksville"
    assert got["Pay"].startswith("$40.00 per unit; applies to later claims")
    assert dm["private"] and "5 units" in dm["text"]
    # a change that means nothing to the claimant (units, the bill rate) sends no DM
    ready.ok(DANA, "edit SR-1 units=35 bill=70")
    assert len([m for m in dms_to(ready, TOM) if "has changed" in (m["title"] or "")]) == 1


def test_a_claim_waiting_for_approval_is_not_told_the_private_details(ready):
    ready.ok(DANA, 'request "Printer swap" units=6 deadline=2027-03-10 pay=35 town=Mineola site="3 Elm Rd" approval=yes')
    ready.ok(TOM, "claim SR-2 2")
    ready.ok(DANA, 'edit SR-2 site="9 Birch Rd"')
    assert not dms_to(ready, TOM)
    ready.ok(DANA, 'edit SR-2 site="7 Ash Rd" deadline=2027-03-09')
    [dm] = dms_to(ready, TOM)
    assert list(facts(dm)) == ["Deadline"] and not dm["private"] and "Ash" not in str(dm)


def test_the_audit_never_keeps_a_private_value(ready):
    ready.ok(DANA, 'edit SR-1 site="14 Oak Ave, Hicksville" contact="Bo Ray 516-555-0199" customer="Zed Dental"')
    [row] = audits(ready, "request.edited")
    assert row.detail == {"changed": "customer, site, contact"}
    text = ready.ok(DANA, "audit SR-1").text
    assert "request.edited" in text and "Oak" not in text.split("request.edited")[1].split("\n")[0]


def test_units_never_go_below_what_is_claimed(ready):
    ready.ok(TOM, "claim SR-1 12")
    reply = ready.refused(DANA, "edit SR-1 units=10")
    assert "12 units of SR-1 are claimed already, so units can't go below 12" in reply.text
    assert "edit SR-1 units=12" in reply.text
    ready.ok(DANA, "edit SR-1 units=12")
    assert request_row(ready).status == "fully_claimed"
    ready.ok(DANA, "edit SR-1 units=20")
    assert request_row(ready).status == "partly_claimed"


def test_an_edit_is_checked_like_a_new_request(ready):
    assert "can't contain “Acme Dental”: it is the customer" in ready.refused(
        DANA, 'edit SR-1 title="Acme Dental patch"').text
    assert "scope can't contain" in ready.refused(DANA, 'edit SR-1 scope="Call Ann Lee first"').text
    assert "has already passed" in ready.refused(DANA, "edit SR-1 deadline=2027-02-26").text
    assert "loses $10.00" in ready.refused(DANA, "edit SR-1 pay=70").text
    assert "loses $5.00" in ready.refused(DANA, "edit SR-1 bill=30").text
    assert "pay=… above $0" in ready.refused(DANA, "edit SR-1 pay=0").text
    assert "whole number above 0" in ready.refused(DANA, "edit SR-1 units=0").text
    form = ready.ok(DANA, "edit SR-1")  # alone: the request form, as the request stands (a button opens it)
    assert form.form == "request" and form.edits == 1 and form.prefill["units"] == "40" and form.private
    assert "Only dispatchers" in ready.refused(TOM, "edit SR-1 units=30").text
    ready.ok(DANA, "edit SR-1 pay=70 loss=ok")
    ready.ok(DANA, 'edit SR-1 title="Windows patch round" approval=yes')  # a bill below pay, accepted before
    assert request_row(ready).approval_required


def test_a_closed_request_is_not_edited(ready):
    ready.ok(DANA, 'cancel SR-1 "postponed"')
    reply = ready.refused(DANA, "edit SR-1 units=30")
    assert "SR-1 is cancelled; only an open request can be edited" in reply.text and "reopen SR-1" in reply.text


def test_an_edit_that_changes_nothing_says_so(ready):
    assert "Nothing to change" in ready.ok(DANA, "edit SR-1 units=40 pay=35").text
    assert not audits(ready, "request.edited")


def test_edit_racing_claims_never_oversubscribes(crew):  # noqa: F811 - the fixture
    """Twelve techs claim 4 units each while a dispatcher cuts the request from 60 to 30 units: either the
    edit comes first and at most 30 are taken, or it comes after more than 30 were and is refused."""
    for round_ in range(3):
        reply = crew.ok(DANA, 'request "DST patch" units=60 deadline=2027-03-10 pay=35 bill=60 town=Hicksville')
        rid = int(re.search(r"SR-(\d+)", reply.text).group(1))

        def act(i: int, rid=rid, round_=round_):
            if i == 0:
                return crew.say(DANA, f"edit SR-{rid} units=30")
            return crew.say(TECHS[i - 1 + 12 * (round_ % 2)], f"claim SR-{rid} 4")

        replies = race(13, act)
        req = request_row(crew, rid)
        with crew.core.db.session() as s:
            live = sum(c.units for c in s.exec(select(Claim).where(Claim.request_id == rid)).all())
        edited = replies[0].ok
        assert live == req.units_taken <= req.units == (30 if edited else 60)
        if not edited:
            assert "claimed already, so units can't go below" in replies[0].text
        assert all(r.ok or "left" in r.text or "fully claimed" in r.text for r in replies[1:]), replies
        for tech in TECHS:
            crew.say(tech, f"release SR-{rid}")


# -- reopen ---------------------------------------------------------------------------------------

def test_a_cancelled_request_reopens_and_can_be_claimed_again(ready):
    ready.ok(DANA, "cancel SR-1")
    assert "is cancelled; it can't be claimed" in ready.refused(TOM, "claim SR-1 3").text
    reply = ready.ok(DANA, "reopen SR-1")
    assert "Reopened SR-1" in reply.text and "40 units open until Wed 10 Mar 2027 17:00 EST" in reply.text
    assert cards(ready)[-1] == (1, "post")
    ready.ok(TOM, "claim SR-1 3")
    [row] = audits(ready, "request.reopened")
    assert row.detail["was"] == "cancelled"


def test_an_expired_request_needs_a_new_deadline_to_reopen(ready, clock):
    clock.advance(days=10)
    run_due(ready.core.db, clock(), home_timezone="America/New_York")
    assert request_row(ready).status == "expired"
    reply = ready.refused(DANA, "reopen SR-1")
    assert "SR-1's deadline, Wed 10 Mar 2027 17:00 EST, has passed" in reply.text
    assert "reopen SR-1 deadline=2027-03-18" in reply.text
    assert "you gave" in ready.refused(DANA, "reopen SR-1 deadline=2027-03-09").text
    ready.ok(DANA, "reopen SR-1 deadline=2027-03-18")
    req = request_row(ready)
    assert req.status == "open" and req.deadline.isoformat().startswith("2027-03-18T21:00")


def test_only_a_cancelled_or_expired_request_reopens(ready):
    assert "still open: `edit` changes it" in ready.refused(DANA, "reopen SR-1").text
    assert "Only dispatchers" in ready.refused(TOM, "reopen SR-1").text


class Channels:
    """Slack at the edge: what reached each channel, with the card's facts."""

    platform = "slack"

    def __init__(self):
        self.got: list[tuple[str, str, Message]] = []
        self.refs: list[tuple[str, str, str]] = []  # (post|update, channel, the message's ref)

    async def post(self, channel_id: str, message: Message, **_marker) -> str:
        self.got.append(("post", channel_id, message))
        self.refs.append(("post", channel_id, f"ts{len(self.got)}"))
        return f"ts{len(self.got)}"

    async def update(self, channel_id: str, ref: str, message: Message) -> None:
        self.got.append(("update", channel_id, message))
        self.refs.append(("update", channel_id, ref))

    async def direct(self, person, message: Message, **_marker) -> str:
        self.got.append(("dm", person.name, message))
        return f"dm{len(self.got)}"

    def reaches(self, person) -> bool:
        return bool(person.slack_id)


def deliver(outbox: Outbox) -> None:
    async def drain():
        while await outbox.deliver_due():
            pass

    asyncio.run(drain())


def test_a_reopened_request_is_posted_afresh_and_its_old_cards_keep_what_they_said(ready, clock):
    slack = Channels()
    outbox = Outbox(ready.core.db, [slack], home_timezone="UTC", clock=clock)
    ready.ok(DANA, "cancel SR-1")
    ready.ok(DANA, "reopen SR-1")  # before its first card went out: one post, not two
    deliver(outbox)
    assert Counter(c for kind, c, _ in slack.got if kind == "post") == {"C0PARTNERS": 1, "C0DISPATCH": 1,
                                                                       "C0MANAGERS": 1}  # and "Contoso signed"
    ready.ok(DANA, "cancel SR-1")
    deliver(outbox)
    assert "Cancelled" in [m for kind, c, m in slack.got if c == "C0PARTNERS"][-1].text
    ready.ok(DANA, "reopen SR-1")
    deliver(outbox)
    partners = [(kind, m) for kind, c, m in slack.got if c == "C0PARTNERS"]
    assert [kind for kind, _ in partners].count("post") == 2  # a fresh card, below the cancelled one
    assert partners[-1][0] == "post" and "40 of 40 units left" in partners[-1][1].text
    assert [kind for kind, c, _ in slack.got if c == "C0DISPATCH"].count("post") == 2
    # the fresh copy is the one kept up to date; the cancelled one is left as it was
    old_ref, new_ref = [ref for kind, c, ref in slack.refs if kind == "post" and c == "C0PARTNERS"]
    ready.ok(TOM, "claim SR-1 4")
    mark = len(slack.refs)
    deliver(outbox)
    latest = [(kind, m) for kind, c, m in slack.got if c == "C0PARTNERS"][-1]
    assert latest[0] == "update" and "36 of 40 units left" in latest[1].text
    updated = {ref for kind, c, ref in slack.refs[mark:] if kind == "update" and c == "C0PARTNERS"}
    assert updated == {new_ref} and old_ref not in updated


# -- widen ----------------------------------------------------------------------------------------

def test_widen_offers_the_request_to_the_next_tier_now(ready, clock):
    reply = ready.ok(DANA, "widen SR-1")
    assert "now offered to tier 1–2 partners" in reply.text
    assert request_row(ready).visible_tier == 2
    assert (1, "post") in cards(ready)[-2:]
    [row] = audits(ready, "request.widened")
    assert row.detail == {"from_tier": 1, "to_tier": 2} and row.actor_id is not None
    assert facts(ready.ok(TOM, "status SR-1").model_dump())["Offered to"] == "tier 1–2 partners"
    assert "no partner or partner channel has a wider tier" in ready.refused(DANA, "widen SR-1").text
    assert "widen it to a tier from 3 to 9" in ready.refused(DANA, "widen SR-1 tier=2").text
    ready.ok(DANA, "widen SR-1 tier=5")
    assert request_row(ready).visible_tier == 5
    clock.advance(hours=5)
    assert not [k for k in run_due(ready.core.db, clock()) if k.startswith("widen")]


def test_widen_lets_a_partner_of_that_tier_claim(db, clock):
    roster = ROSTER.read_text().replace("  - name: Fabrikam Tech\n    status: vetted\n",
                                        "  - name: Fabrikam Tech\n    status: vetted\n    tier: 2\n", 1)
    load_roster(db, roster, now=clock())
    chat = Chat(Surge(db, home_timezone="America/New_York", clock=clock))
    chat.ok("Frank Fabrikam", "guidelines ack")
    chat.ok(DANA, 'request "Patch round" units=10 deadline=2027-03-10 pay=35 town=Mineola')
    assert "not offered to your tier yet" in chat.refused("Frank Fabrikam", "claim SR-1 3").text
    assert "Only dispatchers" in chat.refused(TOM, "widen SR-1").text
    chat.ok(DANA, "widen SR-1 tier=2")
    chat.ok("Frank Fabrikam", "claim SR-1 3")


def test_a_full_or_closed_request_is_not_widened(ready):
    ready.ok(TOM, "claim SR-1")
    assert "fully claimed; only a request with units left" in ready.refused(DANA, "widen SR-1").text


# -- time zones -----------------------------------------------------------------------------------

def zoned(db, clock, **orgs) -> Chat:
    """The example roster (home in New York) with partner time zones, and SURGE_TIMEZONE=UTC."""
    data = yaml.safe_load(ROSTER.read_text())
    for partner in data["partners"]:
        if partner["name"] in orgs:
            partner["timezone"] = orgs[partner["name"]]
    load_roster(db, yaml.safe_dump(data, sort_keys=False), now=clock())
    chat = Chat(Surge(db, home_timezone="UTC", clock=clock))
    chat.ok(PAULA, 'sign "Paula Admin"')
    chat.ok(TOM, "guidelines ack")
    chat.ok(DANA, 'request "Patch round" units=10 deadline=2027-03-10 pay=35 town=Mineola approval=yes')
    return chat


def test_the_roster_home_zone_wins_over_the_setting_on_cards_and_answers(db, clock):
    chat = zoned(db, clock)
    with db.session() as s:
        partner, dispatch = request_cards(s, 1, "UTC")
    assert facts(partner.model_dump())["Deadline"] == "Wed 10 Mar 2027 17:00 EST"
    assert "EST" in facts(dispatch.model_dump())["Deadline"]
    assert "Wed 10 Mar 2027 17:00 EST" in str(chat.ok(TOM, "status SR-1").fields)  # Tom: no zone of his own
    slack = Channels()
    deliver(Outbox(db, [slack], home_timezone="UTC", clock=clock))
    [card] = [m for kind, c, m in slack.got if c == "C0PARTNERS" and kind == "post"]
    assert facts(card.model_dump())["Deadline"] == "Wed 10 Mar 2027 17:00 EST"


def test_without_a_home_zone_in_the_roster_the_setting_is_the_home_zone(db, clock):
    data = yaml.safe_load(ROSTER.read_text())
    del data["home"]["timezone"]
    load_roster(db, yaml.safe_dump(data, sort_keys=False), now=clock())
    chat = Chat(Surge(db, home_timezone="America/Chicago", clock=clock))
    chat.ok(DANA, 'request "Patch round" units=10 deadline=2027-03-10T17:00 pay=35 town=Mineola')
    with db.session() as s:
        partner, _ = request_cards(s, 1, "America/Chicago")
    assert facts(partner.model_dump())["Deadline"] == "Wed 10 Mar 2027 16:00 CST"  # Dana wrote New York time


def test_an_approved_claim_gets_the_job_dm_in_the_techs_zone(db, clock):
    chat = zoned(db, clock, **{"Contoso Field Services": "America/Chicago"})
    chat.ok(TOM, "claim SR-1 4")
    assert not dms_to(chat, TOM)
    chat.ok(DANA, 'approve SR-1 "Tom Tech"')
    [dm] = dms_to(chat, TOM)
    assert dm["title"] == "Your job: SR-1 · Patch round" and dm["private"]
    assert facts(dm)["Deadline"] == "Wed 10 Mar 2027 16:00 CST" and facts(dm)["Your units"] == "4"
    # the same as a direct claim gives
    chat.ok(DANA, 'request "Second round" units=10 deadline=2027-03-10 pay=35 town=Mineola')
    chat.ok(TOM, "claim SR-2 2")
    direct = [m for m in dms_to(chat, TOM) if m["title"] == "Your job: SR-2 · Second round"][0]
    assert facts(direct)["Deadline"] == facts(dm)["Deadline"]


def test_help_explains_each_command_with_an_example(ready):
    for name, example in (("edit", "edit SR-7 units=30"), ("reopen", "reopen SR-7 deadline="),
                          ("widen", "widen SR-7 tier=2")):
        reply = ready.ok(DANA, f"help {name}")
        assert example in str(reply.fields) and "dispatchers" in reply.text
    assert "`edit SR-7" in ready.ok(DANA, "help").text
