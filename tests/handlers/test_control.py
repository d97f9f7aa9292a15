"""Keeping the work in hand: revoke, reassign, a suspension that bites, and names as people type them."""
from __future__ import annotations

import io
import re
import threading

import pytest
from sqlmodel import select

from bot.console import Console
from handlers.types import Audience, Identity
from models.tables import AuditEntry, Claim, CompletionReport, Org, Person, SurgeRequest

DANA, MORGAN, TOM, FRANK, PAULA = "Dana Dispatch", "Morgan Manager", "Tom Tech", "Frank Fabrikam", "Paula Admin"
POST = 'request "DST patch {n}" units={units} deadline=2027-03-10 pay=35 bill=60 town=Hicksville customer="Acme Dental"'
CRASHES = ("Something went wrong", "integrity error")


def row(chat, model, **where):
    with chat.core.db.session() as s:
        return s.exec(select(model).filter_by(**where)).one()


def claims(chat, rid=1) -> dict[str, Claim]:
    """Each person's newest claim on the request, by name."""
    with chat.core.db.session() as s:
        rows = s.exec(select(Claim, Person).where(Claim.request_id == rid, Claim.person_id == Person.id)
                      .order_by(Claim.id)).all()
    return {p.name: c for c, p in rows}


def dms(chat, name: str) -> list[dict]:
    pid = row(chat, Person, name=name).id
    return [m for m in chat.messages_to(Audience.DM) if m["person_id"] == pid]


def actions(chat, action: str) -> list[AuditEntry]:
    with chat.core.db.session() as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


def post(chat, units=20, approval=False) -> int:
    reply = chat.ok(DANA, POST.format(n=units, units=units) + (" approval=yes" if approval else ""))
    return int(re.search(r"SR-(\d+)", reply.text).group(1))


def add_person(chat, name: str, org: str, roles=("tech",), active=True) -> None:
    with chat.core.db.session() as s:
        org_id = s.exec(select(Org).where(Org.name == org)).one().id
        s.add(Person(name=name, org_id=org_id, roles=list(roles), active=active))


# -- revoke -------------------------------------------------------------------------------------

def test_revoke_puts_the_units_back_and_tells_the_claimant_why(ready):
    ready.ok(TOM, "claim SR-1 12")
    reply = ready.ok(DANA, 'revoke SR-1 Tom "the customer asked for our own staff"')
    assert "Revoked Tom Tech's claim on SR-1 (12 units claimed)" in reply.text and "40 units unclaimed" in reply.text
    req = row(ready, SurgeRequest, id=1)
    assert (req.units_taken, req.status) == (0, "open")
    assert claims(ready)[TOM].status == "revoked"
    assert "the customer asked for our own staff" in dms(ready, TOM)[-1]["text"]
    [entry] = actions(ready, "claim.revoked")
    assert entry.units == 12 and entry.detail["why"] == "the customer asked for our own staff"
    assert "40 of 40 units left" in ready.say(TOM, "status SR-1").text
    assert "no claim on SR-1" in ready.refused(TOM, "start SR-1").text


@pytest.mark.parametrize("state", ["pending", "in_progress", "done"])
def test_revoke_takes_back_a_claim_in_any_state_before_verification(ready, state):
    rid = post(ready, 10, approval=state == "pending")
    ready.ok(TOM, f"claim SR-{rid} 10")
    if state != "pending":
        ready.ok(TOM, f"start SR-{rid}")
    if state == "done":
        ready.ok(TOM, f"done SR-{rid} 6")  # 4 go back at once
    ready.ok(DANA, f'revoke SR-{rid} "Tom Tech" "no-show at the customer"')
    assert row(ready, SurgeRequest, id=rid).units_taken == 0
    assert claims(ready, rid)[TOM].status == "revoked"
    if state == "done":
        assert row(ready, CompletionReport, claim_id=claims(ready, rid)[TOM].id).outcome == "revoked"


def test_revoke_refusals_change_nothing(ready):
    ready.ok(TOM, "claim SR-1 5")
    ready.ok(TOM, "done SR-1")
    ready.ok(DANA, "verify SR-1 Tom")
    assert "no claim on SR-1 to take back" in ready.refused(DANA, 'revoke SR-1 Tom "late"').text
    assert "no claim on SR-1" in ready.refused(DANA, 'revoke SR-1 Frank "late"').text
    assert "Only dispatchers" in ready.refused(TOM, 'revoke SR-1 Tom "late"').text
    assert "needs the why" in ready.refused(DANA, "revoke SR-1 Tom").text


# -- reassign -----------------------------------------------------------------------------------

def test_reassign_moves_the_claim_and_the_new_holder_gets_the_job(ready):
    ready.ok(FRANK, "guidelines ack")
    ready.ok(TOM, "claim SR-1 12")
    reply = ready.ok(DANA, "reassign SR-1 Tom Frank")
    assert "Moved 12 units of SR-1 from Tom Tech to Frank Fabrikam" in reply.text
    mine = claims(ready)
    assert (mine[TOM].status, mine[FRANK].status, mine[FRANK].units) == ("reassigned", "active", 12)
    assert row(ready, SurgeRequest, id=1).units_taken == 12  # moved, not taken twice
    job = dms(ready, FRANK)[-1]
    assert job["title"].startswith("Your job: SR-1") and "assigned you 12 units" in job["text"]
    assert {"label": "Customer", "value": "Acme Dental", "at": None} in job["fields"]
    assert "moved 12 units of your claim on SR-1" in dms(ready, TOM)[-1]["text"]
    assert [e.units for e in actions(ready, "claim.reassigned")] == [12]
    ready.ok(FRANK, "start SR-1")
    assert "no claim on SR-1" in ready.refused(TOM, "start SR-1").text


def test_reassign_some_units_then_more_tops_up_one_claim(ready):
    ready.ok(PAULA, "guidelines ack")
    ready.ok(TOM, "claim SR-1 12")
    ready.ok(DANA, 'reassign SR-1 Tom "paula" 5')
    assert "You keep 7 units" in dms(ready, TOM)[-1]["text"]
    ready.ok(DANA, "reassign SR-1 Tom Paula 2")
    mine = claims(ready)
    assert (mine[TOM].units, mine[PAULA].units, mine[TOM].status) == (5, 7, "active")
    assert len([c for c in claims(ready).values()]) == 2


def test_reassign_of_a_pending_claim_is_approved_for_the_new_holder(ready):
    ready.ok(FRANK, "guidelines ack")
    rid = post(ready, 8, approval=True)
    ready.ok(TOM, f"claim SR-{rid}")
    ready.ok(DANA, f"reassign SR-{rid} Tom Frank")
    assert claims(ready, rid)[FRANK].status == "active"


def test_every_claim_gate_applies_to_the_new_holder_and_nothing_changes(ready):
    ready.ok(TOM, "claim SR-1 12")
    assert "Frank Fabrikam hasn't acknowledged the field-conduct guidelines" in ready.refused(
        DANA, "reassign SR-1 Tom Frank").text
    ready.ok(FRANK, "guidelines ack")
    assert "Dana Dispatch is home staff" in ready.refused(DANA, "reassign SR-1 Tom Dana").text
    add_person(ready, "Gone Tech", "Fabrikam Tech", active=False)
    assert "Gone Tech is no longer on the roster" in ready.refused(DANA, 'reassign SR-1 Tom "Gone Tech"').text
    ready.ok(MORGAN, 'suspend Fabrikam "under review"')
    assert "Fabrikam Tech is suspended" in ready.refused(DANA, "reassign SR-1 Tom Frank").text
    ready.ok(MORGAN, "reinstate Fabrikam")
    with ready.core.db.session() as s:
        s.exec(select(Org).where(Org.name == "Fabrikam Tech")).one().tier = 2
    reply = ready.refused(DANA, "reassign SR-1 Tom Frank")
    assert "offered to tier 1 partners for now" in reply.text and "widen SR-1 tier=2" in reply.text


def test_an_unsigned_partner_cannot_be_given_work(chat):
    chat.ok(FRANK, "guidelines ack")
    chat.ok(TOM, "guidelines ack")
    rid = post(chat, 10)
    chat.ok(FRANK, f"claim SR-{rid} 4")
    reply = chat.refused(DANA, f"reassign SR-{rid} Frank Tom")
    assert "Contoso Field Services hasn't signed" in reply.text and "Paula Admin can sign it" in reply.text


def test_reassign_refusals_change_nothing(ready):
    ready.ok(FRANK, "guidelines ack")
    ready.ok(TOM, "claim SR-1 6")
    assert "holds 6 units of SR-1" in ready.refused(DANA, "reassign SR-1 Tom Frank 7").text
    assert "holds that claim already" in ready.refused(DANA, "reassign SR-1 Tom Tom").text
    assert "Paula Admin has no claim on SR-1" in ready.refused(DANA, "reassign SR-1 Paula Frank").text
    ready.ok(TOM, "done SR-1")
    assert "reported done: verify or reject it" in ready.refused(DANA, "reassign SR-1 Tom Frank").text
    assert "Only dispatchers" in ready.refused(TOM, "reassign SR-1 Tom Frank").text


# -- suspend and reinstate ----------------------------------------------------------------------

def test_suspension_revokes_what_has_not_started_and_puts_work_on_site_before_dispatch(ready):
    ready.ok(PAULA, "guidelines ack")
    ready.ok(TOM, "claim SR-1 10")
    ready.ok(PAULA, "claim SR-1 3")
    on_site = post(ready, 5)
    ready.ok(TOM, f"claim SR-{on_site}")
    ready.ok(TOM, f"start SR-{on_site}")
    reply = ready.ok(MORGAN, 'suspend contoso "a customer says our tech offered a cheaper deal"')
    assert "Revoked 2 claims not started" in reply.text and "1 claim on site is listed" in reply.text
    assert row(ready, SurgeRequest, id=1).units_taken == 0
    assert {c.status for c in claims(ready).values()} == {"revoked"}
    assert claims(ready, on_site)[TOM].status == "in_progress"
    [alert] = [m for m in ready.messages_to(Audience.DISPATCH) if "is on site" in m["text"]]
    [button] = alert["actions"]
    assert button["label"] == "Revoke" and button["command"] == f'revoke SR-{on_site} "Tom Tech" "partner suspended"'
    for who in (TOM, PAULA):
        assert "cheaper deal" in dms(ready, who)[-1]["text"]
    assert f"SR-{on_site}" in dms(ready, TOM)[-1]["text"] and "Taken back from you: SR-1" in dms(ready, TOM)[-1]["text"]
    [entry] = actions(ready, "partner.suspended")
    assert entry.detail["why"] == "a customer says our tech offered a cheaper deal"
    from handlers.types import Action
    pulled = ready.core.handle_action(Identity(platform="console", user_id=DANA), Action(**button))
    assert pulled.ok and claims(ready, on_site)[TOM].status == "revoked"


def test_a_suspended_partner_cannot_claim_start_or_report_but_dispatch_still_verifies(ready):
    ready.ok(TOM, "claim SR-1 4")
    ready.ok(TOM, "done SR-1")
    second = post(ready, 6)
    ready.ok(TOM, f"claim SR-{second}")
    ready.ok(TOM, f"start SR-{second}")
    ready.ok(MORGAN, "suspend Contoso Field Services")  # the reason may be left out, the name unquoted
    assert actions(ready, "partner.suspended")[0].detail["why"] == ""
    assert "suspended" in ready.refused(TOM, "claim SR-1 1").text
    assert "can't start work" in ready.refused(TOM, f"start SR-{second}").text
    assert "can't report work" in ready.refused(TOM, f"done SR-{second}").text
    ready.ok(DANA, "verify SR-1 Tom")
    assert "suspended already" in ready.refused(MORGAN, "suspend contoso").text
    reply = ready.ok(MORGAN, "reinstate contoso")
    assert "reinstated" in reply.text and row(ready, Org, name="Contoso Field Services").status == "vetted"
    assert "reinstated" in dms(ready, TOM)[-1]["text"]
    assert actions(ready, "partner.reinstated")
    ready.ok(TOM, f"done SR-{second}")
    assert "not suspended" in ready.refused(MORGAN, "reinstate contoso").text
    assert "Only managers" in ready.refused(DANA, "reinstate contoso").text


# -- names --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["<@U0TOM>", "29:1tom", '"tom tech"', "TOM", "tom", '"Tom T"', "@Tom"])
def test_a_person_is_a_mention_a_full_name_a_first_name_or_a_prefix(ready, name):
    ready.ok(TOM, "claim SR-1 3")
    ready.ok(DANA, f'revoke SR-1 {name} "wrong site"')
    assert claims(ready)[TOM].status == "revoked"


def test_a_name_several_people_share_names_them_all_and_changes_nothing(ready):
    add_person(ready, "Tom Thumb", "Contoso Field Services")
    ready.ok(TOM, "claim SR-1 3")
    reply = ready.refused(DANA, 'revoke SR-1 tom "wrong site"')
    assert "could be Tom Tech or Tom Thumb" in reply.text and "Nothing was changed" in reply.text
    assert "can't find “Tomas”" in ready.refused(DANA, 'revoke SR-1 Tomas "wrong site"').text
    ready.ok(DANA, 'revoke SR-1 "tom te" "wrong site"')


@pytest.mark.parametrize("name", ["contoso", "FIELD", '"field serv"', "Services"])
def test_a_partner_is_any_unique_part_of_its_name(ready, name):
    ready.ok(MORGAN, f"suspend {name}")
    assert row(ready, Org, name="Contoso Field Services").status == "suspended"


def test_a_partner_part_several_names_share_names_them_all(ready):
    reply = ready.refused(MORGAN, "suspend e")
    assert "could be Contoso Field Services or Fabrikam Tech" in reply.text
    assert "no partner called “Initech”" in ready.refused(MORGAN, "reinstate Initech").text


def console(core, lines, person=None) -> str:
    out = io.StringIO()
    Console(core, person=person, out=out).run(lines)
    return out.getvalue()


def test_console_as_refuses_a_name_not_on_the_roster_listing_close_ones(core):
    out = console(core, ["/as Tomas Tech", "list", "/as Tom Tec", "/as zzz", "/as tom", "list"])
    assert "you are now Tom Tech" in out  # a unique prefix, any case
    assert "There is no “Tomas Tech” on the roster. Close: Tom Tech." in out
    assert "There is no “zzz” on the roster. Type /who to see the roster." in out
    assert "Choose who you are first" in out  # no one was taken on
    assert out.count("you are now Tom Tech") == 2


def test_surge_console_as_refuses_a_name_not_on_the_roster(tmp_path):
    from tests.conftest import ROSTER
    from tests.test_cli import surge

    surge(["roster", "load", str(ROSTER)], tmp_path)
    result = surge(["console", "--as", "Dana Dispach"], tmp_path, stdin="list\n")
    assert result.returncode == 2 and "There is no “Dana Dispach” on the roster. Close: Dana Dispatch." in result.stderr
    ok = surge(["console", "--as", "dana"], tmp_path, stdin="list\n")
    assert ok.returncode == 0 and "Dana Dispatch> list" in ok.stdout


@pytest.mark.parametrize("name", ["revoke", "reassign", "suspend", "reinstate"])
def test_help_shows_each_command_with_an_example(ready, name):
    reply = ready.ok(DANA, f"help {name}")
    example = next(f.value for f in reply.fields if f.label == "Example")
    assert example.startswith(f"`{name} ")


# -- races --------------------------------------------------------------------------------------

def race(*calls, stages=None):
    """Run the calls in stages, in order: the calls of one stage each in its own thread, released
    together by a barrier (a real race); a later stage starts once the earlier one has answered.
    Their answers, in the calls' order."""
    stages = stages or [0] * len(calls)
    out = [None] * len(calls)
    for stage in sorted(set(stages)):
        now = [i for i, s in enumerate(stages) if s == stage]
        barrier = threading.Barrier(len(now))

        def run(i, barrier=barrier):
            barrier.wait(timeout=30)
            out[i] = calls[i]()

        threads = [threading.Thread(target=run, args=(i,)) for i in now]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "a thread hung"
    return out


def books_balance(chat, rid) -> SurgeRequest:
    req = row(chat, SurgeRequest, id=rid)
    live = [c for c in claims_all(chat, rid) if c.status in ("pending", "active", "in_progress", "done")]
    assert sum(c.units for c in live) == req.units_taken <= req.units
    assert len({c.person_id for c in live}) == len(live), "one live claim per person"
    return req


def claims_all(chat, rid) -> list[Claim]:
    with chat.core.db.session() as s:
        return list(s.exec(select(Claim).where(Claim.request_id == rid)).all())


# Released together (a real race), or one side first then the other, so each order is seen at least once.
STAGES = [(0, 0), (0, 0), (0, 0), (1, 0), (0, 1)]


def test_a_revoke_racing_the_techs_done_loses_no_update(ready):
    seen = set()
    for stages in STAGES:
        rid = post(ready, 30)
        ready.ok(TOM, f"claim SR-{rid}")
        ready.ok(TOM, f"start SR-{rid}")
        done, revoked = race(lambda rid=rid: ready.say(TOM, f"done SR-{rid} 20"),
                             lambda rid=rid: ready.say(DANA, f'revoke SR-{rid} Tom "pulled out"'), stages=stages)
        assert revoked.ok and not any(c in done.text + revoked.text for c in CRASHES), (done.text, revoked.text)
        assert done.ok or "no claim on" in done.text
        req = books_balance(ready, rid)
        assert (req.units_taken, req.status) == (0, "open")
        [c] = claims_all(ready, rid)
        assert c.status == "revoked" and c.units == (20 if done.ok else 30)
        seen.add(done.ok)
    assert seen == {True, False}


def test_a_reassign_racing_claims_never_oversubscribes(ready):
    ready.ok(FRANK, "guidelines ack")
    ready.ok(PAULA, "guidelines ack")
    frank_id = row(ready, Person, name=FRANK).id
    orders = set()
    for stages in STAGES:
        rid = post(ready, 40)
        ready.ok(TOM, f"claim SR-{rid} 30")
        moved, frank, paula = race(lambda rid=rid: ready.say(DANA, f"reassign SR-{rid} Tom Frank"),
                                   lambda rid=rid: ready.say(FRANK, f"claim SR-{rid} 10"),
                                   lambda rid=rid: ready.say(PAULA, f"claim SR-{rid} 10"),
                                   stages=[*stages, max(stages) + 1])  # Paula asks for what is left last
        texts = [moved.text, frank.text, paula.text]
        assert moved.ok and not any(c in t for t in texts for c in CRASHES), texts
        assert frank.ok != paula.ok and "fully claimed" in (paula.text if frank.ok else frank.text)
        req = books_balance(ready, rid)
        assert (req.units_taken, req.status) == (40, "fully_claimed")
        held = {c.person_id: c.units for c in claims_all(ready, rid) if c.status == "active"}
        assert held[frank_id] == 30 + (10 if frank.ok else 0)
        if frank.ok:
            with ready.core.db.session() as s:
                first = s.exec(select(AuditEntry).where(AuditEntry.request_id == rid, AuditEntry.id > 0,
                                                        AuditEntry.action.in_(["claim.reassigned", "claim.taken"]),
                                                        AuditEntry.actor_id != row(ready, Person, name=TOM).id)
                               .order_by(AuditEntry.id)).first()
            orders.add(first.action)
    assert orders == {"claim.reassigned", "claim.taken"}  # Frank's claim came both before and after the move
