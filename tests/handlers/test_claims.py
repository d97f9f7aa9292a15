"""Claiming: every gate in order, what each refusal tells whom, and the units arithmetic."""
from __future__ import annotations

from sqlmodel import select

from handlers.types import ActionKind, Audience
from models.tables import Claim, ClaimStatus, Org, SurgeRequest

POST = 'request "Patch" units=40 deadline=2027-03-10 pay=35 bill=60 town=Hicksville customer="Acme Dental"'


def request_row(chat, rid=1) -> SurgeRequest:
    with chat.core.db.session() as s:
        return s.get(SurgeRequest, rid)


def test_unknown_person_is_told_politely_and_nothing_changes(chat):
    chat.ok("Dana Dispatch", POST)
    reply = chat.refused("Stranger Danger", "claim SR-1 3")
    assert "not on this Surge roster" in reply.text
    assert "Morgan Manager" in reply.text  # the admin who can add them


def test_home_staff_cannot_claim(chat):
    chat.ok("Dana Dispatch", POST)
    reply = chat.refused("Dana Dispatch", "claim SR-1 3")
    assert "Only partner admins or techs can use `claim`" in reply.text


def test_pending_or_suspended_partner_is_refused_naming_managers(ready):
    ready.ok("Morgan Manager", 'suspend "Contoso Field Services"')
    reply = ready.refused("Tom Tech", "claim SR-1 3")
    assert "suspended" in reply.text and "Morgan Manager" in reply.text
    ready.ok("Morgan Manager", "vet Contoso quality=5 commitment=4 track=4 reputation=5 credit=4 rapport=5")
    ready.ok("Tom Tech", "claim SR-1 3")


def test_unsigned_agreement_tells_tech_who_can_sign(chat):
    chat.ok("Dana Dispatch", POST)
    reply = chat.refused("Tom Tech", "claim SR-1 3")
    assert "hasn't signed" in reply.text and "Paula Admin" in reply.text
    assert not reply.actions  # a tech cannot sign


def test_unsigned_agreement_offers_partner_admin_to_sign_then_claim(chat):
    chat.ok("Dana Dispatch", POST)
    reply = chat.refused("Paula Admin", "claim SR-1 3")
    [sign] = reply.actions
    assert sign.kind is ActionKind.SIGN and sign.then == "claim SR-1 3"


def test_expired_signature_closes_the_gate(chat, clock):
    # Fabrikam's paper signature (2026-11-01, 12 months) expires on 2027-11-01.
    chat.ok("Dana Dispatch", 'request "Late" units=5 deadline=2027-12-20 pay=35 town=Hicksville')
    chat.ok("Frank Fabrikam", "guidelines ack")
    clock.now = clock.now.replace(year=2027, month=11, day=2)
    reply = chat.refused("Frank Fabrikam", "claim SR-1 1")
    assert "hasn't signed" in reply.text


def test_guidelines_gate_shows_them_with_acknowledge_then_claim(chat):
    chat.ok("Dana Dispatch", POST)
    chat.ok("Paula Admin", 'sign "Paula Admin"')
    reply = chat.refused("Tom Tech", "claim SR-1 5")
    assert {f.label for f in reply.fields} >= {"Introducing yourself", "Never share", "Significant problems",
                                              "When the customer asks for more work"}
    [ack] = reply.actions
    assert ack.command == "guidelines ack" and ack.then == "claim SR-1 5"
    after = chat.core.handle_action(_tom(), ack)
    assert after.ok and "You have 5 units of SR-1" in after.text
    assert request_row(chat).units_taken == 5


def test_new_guidelines_version_asks_again(ready, db):
    from handlers.roster import load_roster
    from tests.conftest import ROSTER

    text = ROSTER.read_text().replace('version: "3"', 'version: "4"').replace("Wear no other", "Wear no")
    load_roster(db, text)
    reply = ready.refused("Tom Tech", "claim SR-1 2")
    assert "version 4" in reply.text


def test_claim_takes_units_updates_card_and_dms_job_details(ready):
    reply = ready.ok("Tom Tech", "claim SR-1 12")
    assert "You have 12 units of SR-1" in reply.text and "28 units left" in reply.text
    assert [c.request_id for c in reply.cards] == [1]
    [dm] = [m for m in reply.messages if m.audience is Audience.DM]
    assert dm.private and "Acme Dental" in str(dm.fields) and "Ann Lee" in str(dm.fields)
    assert "Never share" in str(dm.fields)  # the guidelines travel with the job
    assert request_row(ready).status == "partly_claimed"


def test_claim_defaults_to_all_left_and_then_card_is_full(ready):
    ready.ok("Tom Tech", "claim SR-1")
    assert request_row(ready).units_left == 0
    assert request_row(ready).status == "fully_claimed"
    again = ready.refused("Tom Tech", "claim SR-1")
    assert "fully claimed" in again.text and "You hold 40 units" in again.text


def test_cannot_claim_more_than_left(ready):
    ready.ok("Tom Tech", "claim SR-1 35")
    ready.ok("Frank Fabrikam", "guidelines ack")
    reply = ready.refused("Frank Fabrikam", "claim SR-1 6")
    assert "Only 5 units of SR-1 are left" in reply.text and "claim SR-1 5" in reply.text


def test_second_claim_tops_up_the_same_claim(ready):
    ready.ok("Tom Tech", "claim SR-1 5")
    ready.ok("Tom Tech", "claim SR-1 3")
    with ready.core.db.session() as s:
        claims = s.exec(select(Claim)).all()
    assert [(c.units, c.status) for c in claims] == [(8, ClaimStatus.ACTIVE)]


def test_claim_unknown_cancelled_or_past_deadline_request(ready, clock):
    assert "There is no SR-9" in ready.refused("Tom Tech", "claim SR-9").text
    clock.advance(days=10)
    assert "deadline" in ready.refused("Tom Tech", "claim SR-1 1").text


def test_approval_required_flow(ready):
    ready.ok("Dana Dispatch", 'request "Servers" units=10 deadline=2027-03-10 pay=35 town=Hicksville approval=yes customer="Beta LLC"')
    reply = ready.ok("Tom Tech", "claim SR-2 4")
    assert "approves claims" in reply.text
    assert not [m for m in reply.messages if m.audience is Audience.DM]  # no job details before approval
    [ask] = [m for m in reply.messages if m.audience is Audience.DISPATCH]
    assert [a.kind for a in ask.actions] == [ActionKind.APPROVE, ActionKind.REJECT]
    assert request_row(ready, 2).units_taken == 4  # reserved while pending
    assert "waiting for a dispatcher" in ready.refused("Tom Tech", "start SR-2").text
    approved = ready.ok("Dana Dispatch", 'approve SR-2 "Tom Tech"')
    [dm] = [m for m in approved.messages if m.audience is Audience.DM]
    assert "Beta LLC" in str(dm.fields)
    ready.refused("Dana Dispatch", 'approve SR-2 "Tom Tech"')  # nothing pending any more


def test_reject_pending_claim_returns_units(ready):
    ready.ok("Dana Dispatch", 'request "Servers" units=10 deadline=2027-03-10 pay=35 town=Hicksville approval=yes')
    ready.ok("Tom Tech", "claim SR-2 4")
    reply = ready.ok("Dana Dispatch", 'reject SR-2 "Tom Tech" "we need a Cisco-certified tech"')
    assert request_row(ready, 2).units_taken == 0
    [dm] = reply.messages
    assert "Cisco-certified" in dm.text


def test_release_some_then_all(ready):
    ready.ok("Tom Tech", "claim SR-1 10")
    reply = ready.ok("Tom Tech", "release SR-1 4")
    assert "You keep 6 units" in reply.text
    assert request_row(ready).units_taken == 6
    assert "You hold 6 units" in ready.refused("Tom Tech", "release SR-1 7").text
    ready.ok("Tom Tech", "release SR-1")
    assert request_row(ready).units_taken == 0 and request_row(ready).status == "open"
    assert "no claim" in ready.refused("Tom Tech", "release SR-1").text


def test_start_checks_in_once(ready):
    ready.ok("Tom Tech", "claim SR-1 10")
    ready.ok("Tom Tech", "start SR-1")
    again = ready.say("Tom Tech", "start SR-1")
    assert "already" in again.text


def test_suspending_needs_a_manager(ready):
    reply = ready.refused("Dana Dispatch", 'suspend "Contoso Field Services"')
    assert "Only managers" in reply.text and "Morgan Manager" in reply.text
    with ready.core.db.session() as s:
        assert s.exec(select(Org).where(Org.name == "Contoso Field Services")).one().status == "vetted"


def _tom():
    from handlers.types import Identity

    return Identity(platform="console", user_id="Tom Tech")


def test_more_units_after_reporting_done_are_refused_and_nothing_changes(ready):
    ready.ok("Tom Tech", "claim SR-1 10")
    ready.ok("Tom Tech", "start SR-1")
    ready.ok("Tom Tech", "done SR-1")
    reply = ready.refused("Tom Tech", "claim SR-1 5")  # the units were taken, then rolled back with the refusal
    assert "wait for it to be verified" in reply.text
    assert request_row(ready).units_taken == 10


def test_an_approved_claim_is_not_topped_up_on_a_request_that_needs_approval(ready):
    ready.ok("Dana Dispatch", 'request "Servers" units=10 deadline=2027-03-10 pay=35 town=Hicksville approval=yes')
    ready.ok("Tom Tech", "claim SR-2 2")
    ready.ok("Tom Tech", "claim SR-2 1")  # still pending: the ask grows
    with ready.core.db.session() as s:
        assert [(c.units, c.status) for c in s.exec(select(Claim).where(Claim.request_id == 2))] == [(3, "pending")]
    ready.ok("Dana Dispatch", 'approve SR-2 "Tom Tech"')
    reply = ready.refused("Tom Tech", "claim SR-2 2")
    assert "needs approval for each claim" in reply.text
    assert request_row(ready, 2).units_taken == 3


def test_a_claim_keeps_the_rates_of_the_moment_it_is_taken(ready):
    ready.ok("Tom Tech", "claim SR-1 5")
    ready.ok("Dana Dispatch", "edit SR-1 pay=40 bill=70")
    ready.ok("Frank Fabrikam", "guidelines ack")
    ready.ok("Frank Fabrikam", "claim SR-1 5")
    ready.ok("Tom Tech", "claim SR-1 1")  # a top-up keeps the claim's rates
    with ready.core.db.session() as s:
        rates = {c.person_id: (c.units, c.pay_cents, c.bill_cents) for c in s.exec(select(Claim))}
    assert sorted(rates.values()) == [(5, 4000, 7000), (6, 3500, 6000)]
