"""From claim to verified: done, verify, send back, problems, leads, cancel, audit."""
from __future__ import annotations

from sqlmodel import select

from handlers.types import ActionKind, Audience
from models.tables import AuditEntry, Claim, Lead, Problem, SurgeRequest


def req(chat, rid=1) -> SurgeRequest:
    with chat.core.db.session() as s:
        return s.get(SurgeRequest, rid)


def claim_of(chat) -> Claim:
    with chat.core.db.session() as s:
        return s.exec(select(Claim).order_by(Claim.id.desc())).first()


def test_done_with_fewer_units_returns_the_rest_and_asks_dispatch_to_verify(ready):
    ready.ok("Tom Tech", "claim SR-1 12")
    reply = ready.ok("Tom Tech", 'done SR-1 10 notes="2 machines were off"')
    assert "2 units went back on the card" in reply.text
    assert req(ready).units_taken == 10
    [note] = [m for m in reply.messages if m.audience is Audience.DISPATCH]
    assert "2 machines were off" in note.text and note.private
    assert [a.kind for a in note.actions] == [ActionKind.VERIFY, ActionKind.REJECT]


def test_done_refusals(ready):
    assert "no claim" in ready.refused("Tom Tech", "done SR-1").text
    ready.ok("Tom Tech", "claim SR-1 5")
    assert "You hold 5 units" in ready.refused("Tom Tech", "done SR-1 6").text
    ready.ok("Tom Tech", "done SR-1")
    assert "already reported" in ready.refused("Tom Tech", "done SR-1").text
    assert "verified" in ready.refused("Tom Tech", "claim SR-1 1").text


def test_verify_all_completes_the_request(ready):
    ready.ok("Tom Tech", "claim SR-1")
    ready.ok("Tom Tech", "start SR-1")
    ready.ok("Tom Tech", "done SR-1")
    reply = ready.ok("Dana Dispatch", "verify SR-1 tom")
    assert "SR-1 is now complete" in reply.text
    r = req(ready)
    assert (r.status, r.units_verified, r.units_taken) == ("completed", 40, 40)
    [dm] = [m for m in reply.messages if m.audience is Audience.DM]
    assert "$1,400.00" in dm.text  # 40 × $35 to the partner
    assert "complete" in ready.refused("Tom Tech", "claim SR-1 1").text


def test_partial_verify_returns_unverified_units_to_the_pool(ready):
    ready.ok("Tom Tech", "claim SR-1 10")
    ready.ok("Tom Tech", "done SR-1")
    reply = ready.ok("Dana Dispatch", 'verify SR-1 "Tom Tech" 7')
    assert "3 units went back" in reply.text
    r = req(ready)
    assert (r.units_taken, r.units_verified, r.units_left) == (7, 7, 33)


def test_verify_more_than_reported_is_refused(ready):
    ready.ok("Tom Tech", "claim SR-1 10")
    ready.ok("Tom Tech", "done SR-1 8")
    reply = ready.refused("Dana Dispatch", 'verify SR-1 "Tom Tech" 9')
    assert "reported 8 units done" in reply.text


def test_send_back_counts_as_rework_and_tells_the_tech(ready):
    ready.ok("Tom Tech", "claim SR-1 10")
    ready.ok("Tom Tech", "done SR-1")
    reply = ready.ok("Dana Dispatch", 'reject SR-1 <@U0TOM> "3 machines still show the old time zone"')
    [dm] = reply.messages
    assert dm.person_id and "old time zone" in dm.text and "done SR-1" in dm.text
    c = claim_of(ready)
    assert (c.status, c.rework) == ("in_progress", 1)
    ready.ok("Tom Tech", "done SR-1")
    ready.ok("Dana Dispatch", "verify SR-1 Tom")


def test_verify_needs_reported_work_and_a_dispatcher(ready):
    ready.ok("Tom Tech", "claim SR-1 10")
    assert "no work reported" in ready.refused("Dana Dispatch", "verify SR-1 Tom").text
    ready.ok("Tom Tech", "done SR-1")
    assert "Only dispatchers" in ready.refused("Tom Tech", "verify SR-1 Tom").text
    assert "can't find" in ready.refused("Dana Dispatch", 'verify SR-1 "Nobody Here"').text


def test_problem_alerts_dispatch_and_the_poster_at_once(ready):
    assert "no claim" in ready.refused("Tom Tech", 'problem SR-1 "flooded"').text
    ready.ok("Tom Tech", "claim SR-1 5")
    reply = ready.ok("Tom Tech", "problem SR-1 server room flooded, customer's UPS beeping")
    audiences = sorted(m.audience for m in reply.messages)
    assert audiences == [Audience.DISPATCH, Audience.DM]
    assert all("customer's UPS beeping" in m.text and m.private for m in reply.messages)
    with ready.core.db.session() as s:
        assert s.exec(select(Problem)).one().text == "server room flooded, customer's UPS beeping"


def test_lead_goes_back_to_dispatch(ready):
    ready.ok("Tom Tech", "claim SR-1 5")
    reply = ready.ok("Tom Tech", 'lead SR-1 "wants 5 new laptops 💻"')
    assert "counts in Contoso Field Services's favour" in reply.text
    [note] = reply.messages
    assert note.audience is Audience.DISPATCH and "💻" in note.text
    with ready.core.db.session() as s:
        assert s.exec(select(Lead)).one().org_id is not None


def test_cancel_releases_claims_and_tells_claimants(ready):
    ready.ok("Tom Tech", "claim SR-1 5")
    reply = ready.ok("Dana Dispatch", 'cancel SR-1 "customer postponed"')
    assert "Told Tom Tech" in reply.text
    [dm] = reply.messages
    assert "customer postponed" in dm.text and "don't go on site" in dm.text
    r = req(ready)
    assert (r.status, r.units_taken) == ("cancelled", 0)
    assert "already cancelled" in ready.refused("Dana Dispatch", "cancel SR-1").text
    assert "cancelled" in ready.refused("Tom Tech", "claim SR-1 1").text
    assert "Only dispatchers" in ready.refused("Tom Tech", "cancel SR-1").text


def test_every_change_is_in_the_audit_log_in_order(ready):
    ready.ok("Tom Tech", "claim SR-1 12")
    ready.ok("Tom Tech", "release SR-1 2")
    ready.ok("Tom Tech", "start SR-1")
    ready.ok("Tom Tech", "done SR-1")
    ready.ok("Dana Dispatch", "verify SR-1 Tom")
    with ready.core.db.session() as s:
        actions = [a.action for a in s.exec(select(AuditEntry).where(AuditEntry.request_id == 1)
                                             .order_by(AuditEntry.id)).all()]
    assert actions == ["request.posted", "claim.taken", "claim.released", "claim.started", "claim.done",
                       "claim.verified"]
    shown = ready.ok("Dana Dispatch", "audit SR-1").text
    assert shown.index("claim.taken") < shown.index("claim.verified") and "Tom Tech" in shown
    assert "Only dispatchers or managers" in ready.refused("Tom Tech", "audit SR-1").text


def test_list_and_status_show_what_each_reader_may_see(ready):
    listing = ready.ok("Tom Tech", "list").text
    assert "SR-1" in listing and "40/40 left" in listing and "Acme" not in listing
    before = ready.ok("Tom Tech", "status SR-1")
    assert "Acme Dental" not in str(before.fields)
    ready.ok("Tom Tech", "claim SR-1 3")
    after = ready.ok("Tom Tech", "status SR-1")
    assert "Acme Dental" in str(after.fields) and "Your claims" in after.text  # the claimant sees the customer
    home = ready.ok("Dana Dispatch", "status SR-1")
    assert "Acme Dental" in str(home.fields) and "Tom Tech" in home.text
