"""Problems (PR-n) and leads (LD-n) after the report: listed, resolved or followed up, reminded once,
counted in the partner's record and shown in the digest."""
from __future__ import annotations

import threading

from sqlmodel import select

from handlers.clock import run_due
from handlers.types import Audience
from models.tables import Lead
from tests.conftest import audited, dms_to

FLOOD = 'problem SR-1 "server room flooded, stopping work"'
LAPTOPS = 'lead SR-1 "wants a quote for 5 new laptops"'


def leads_in_db(chat) -> list[Lead]:
    with chat.core.db.session() as s:
        return list(s.exec(select(Lead).order_by(Lead.id)).all())


def reminders(chat) -> list[dict]:
    return [m for m in chat.messages_to(Audience.DISPATCH) if "is still open" in m["text"]]


def on_site(chat, who: str = "Tom Tech", units: int = 5) -> None:
    chat.ok(who, f"claim SR-1 {units}")
    chat.ok(who, "start SR-1")


def test_a_problem_is_numbered_listed_with_its_age_and_resolved_once_and_the_claimant_is_told(ready, clock):
    on_site(ready)
    reply = ready.ok("Tom Tech", FLOOD)
    assert "PR-1" in reply.text
    assert "Problem PR-1 on SR-1" in ready.messages_to(Audience.DISPATCH)[-1]["text"]
    clock.advance(hours=5)
    listed = ready.ok("Dana Dispatch", "problems")
    assert listed.title == "Open problems (1)" and listed.private
    assert "PR-1 · SR-1 · DST patch, Main St office, Tom Tech (Contoso Field Services), 5 hours old" in listed.text
    assert "server room flooded" in listed.text
    assert "PR-1" in ready.ok("Morgan Manager", "problems").text
    done = ready.ok("Dana Dispatch", 'resolve PR-1 "sent a second tech with a pump"')
    assert "PR-1 on SR-1 (Tom Tech) is resolved" in done.text
    told = [m for m in dms_to(ready, "Tom Tech") if (m["title"] or "").startswith("Problem PR-1")]
    assert len(told) == 1 and "second tech with a pump" in told[0]["text"] and told[0]["private"]
    assert "resolved already by Dana Dispatch" in ready.refused("Morgan Manager", 'resolve pr-1 "again"').text
    assert ready.ok("Dana Dispatch", "problems").text == "No open problems."
    assert len(audited(ready, "problem.resolved")) == 1
    assert "PR-1" not in str(ready.ok("Morgan Manager", "mine").fields)


def test_only_dispatchers_and_managers_see_and_resolve_problems_and_mistakes_are_explained(ready):
    on_site(ready)
    ready.ok("Tom Tech", FLOOD)
    for who in ("Tom Tech", "Paula Admin"):
        assert "dispatchers or managers" in ready.refused(who, "problems").text
        assert "dispatchers or managers" in ready.refused(who, 'resolve PR-1 "fixed"').text
    assert "There is no PR-9" in ready.refused("Dana Dispatch", 'resolve PR-9 "fixed"').text
    assert "a problem has no units" in ready.refused("Dana Dispatch", 'resolve PR-1 "fixed" units=2').text


def test_an_open_problem_reminds_the_dispatchers_once_after_four_hours_even_with_two_schedulers(ready, clock):
    on_site(ready)
    ready.ok("Tom Tech", FLOOD)
    ready.ok("Tom Tech", 'problem SR-1 "the customer locked the office"')
    ready.ok("Dana Dispatch", 'resolve PR-2 "they opened it"')
    db = ready.core.db
    clock.advance(hours=3, minutes=59)
    assert not [k for k in run_due(db, clock()) if k.startswith("remind:problem")]
    clock.advance(minutes=1)
    barrier, results = threading.Barrier(2), []

    def scheduler():
        barrier.wait()
        results.append(run_due(db, clock(), home_timezone="America/New_York"))

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    keys = [k for r in results for k in r if k.startswith("remind:problem")]
    assert keys == ["remind:problem:1"]  # one scheduler sent it; the resolved PR-2 never
    clock.advance(hours=20)
    assert not [k for k in run_due(db, clock()) if k.startswith("remind:problem")]
    sent = reminders(ready)
    assert len(sent) == 1 and sent[0]["private"]
    assert "PR-1 on SR-1 · DST patch, Main St office, raised by Tom Tech, is still open (4 hours old)" in sent[0]["text"]
    assert 'resolve PR-1 "what was done"' in sent[0]["text"]


def test_the_same_lead_twice_is_one_lead_whatever_its_case_and_spaces(ready):
    on_site(ready)
    first = ready.ok("Tom Tech", LAPTOPS)
    assert "LD-1" in first.text
    again = ready.ok("Tom Tech", 'lead SR-1 "Wants a  quote for 5 NEW laptops "')
    assert again.text.startswith("Already handed back as LD-1") and "it is new" in again.text
    assert len(leads_in_db(ready)) == 1 and len(audited(ready, "lead.handed_back")) == 1
    assert len([m for m in ready.messages_to(Audience.DISPATCH) if "💡 Lead LD-1" in m["text"]]) == 1
    ready.ok("Tom Tech", 'lead SR-1 "wants a new firewall"')
    ready.ok("Frank Fabrikam", "guidelines ack")
    on_site(ready, "Frank Fabrikam", 3)
    assert "LD-3" in ready.ok("Frank Fabrikam", LAPTOPS).text  # another person's lead is their own
    assert [lead.id for lead in leads_in_db(ready)] == [1, 2, 3]


def test_leads_are_followed_up_and_a_won_value_shows_in_leads_and_the_partners_record(ready):
    on_site(ready)
    ready.ok("Tom Tech", LAPTOPS)
    ready.ok("Tom Tech", 'lead SR-1 "wants a new firewall"')
    listed = ready.ok("Dana Dispatch", "leads")
    assert listed.private and "2 new · 0 contacted · 0 won · 0 lost" in listed.text
    assert "LD-1 · new · SR-1 · DST patch, Main St office, Tom Tech (Contoso Field Services)" in listed.fields[0].value
    assert "is contacted (was new)" in ready.ok("Dana Dispatch", "lead-status LD-1 contacted").text
    won = ready.ok("Morgan Manager", "lead-status ld-1 won value=1200")
    assert "LD-1 on SR-1 is won, worth $1,200.00 (was contacted)" in won.text
    told = [m for m in dms_to(ready, "Tom Tech") if (m["title"] or "") == "Lead LD-1 won"]
    assert len(told) == 1 and "1,200" not in told[0]["text"]
    ready.ok("Dana Dispatch", "lead-status LD-2 lost")
    listed = ready.ok("Morgan Manager", "leads")
    assert "0 new · 0 contacted · 1 won · 1 lost · won $1,200.00" in listed.text
    assert "LD-1 · won $1,200.00" in listed.fields[0].value and "LD-2 · lost" in listed.fields[0].value
    record = ready.ok("Paula Admin", "record").text
    assert "2 leads handed back (1 won, $1,200.00)" in record
    assert "(0 won, $0.00)" in ready.ok("Morgan Manager", "record Fabrikam").text
    assert [a.detail["state"] for a in audited(ready, "lead.status")] == ["contacted", "won", "lost"]


def test_lead_status_refuses_what_it_cannot_do_and_changes_nothing(ready):
    on_site(ready)
    ready.ok("Tom Tech", LAPTOPS)
    for who in ("Tom Tech", "Paula Admin"):
        assert "dispatchers or managers" in ready.refused(who, "lead-status LD-1 won").text
        assert "dispatchers or managers" in ready.refused(who, "leads").text
    assert "contacted, won, lost" in ready.refused("Dana Dispatch", "lead-status LD-1 maybe").text
    assert "give it with `won`" in ready.refused("Dana Dispatch", "lead-status LD-1 lost value=5").text
    assert "There is no LD-7" in ready.refused("Dana Dispatch", "lead-status LD-7 won").text
    assert "follows up a lead, like LD-5" in ready.refused("Dana Dispatch", "lead-status PR-1 won").text
    ready.ok("Dana Dispatch", "lead-status LD-1 won value=900")
    assert "is won already" in ready.refused("Dana Dispatch", "lead-status LD-1 won").text
    assert "worth $950.00" in ready.ok("Dana Dispatch", "lead-status LD-1 won value=950").text


def test_the_digest_shows_open_problems_with_their_age_and_leads_with_their_state_folded_past_five(ready, clock):
    on_site(ready)
    for n in range(7):
        ready.ok("Tom Tech", f'problem SR-1 "printer {n} on fire"')
        ready.ok("Tom Tech", f'lead SR-1 "wants {n} more monitors"')
    ready.ok("Dana Dispatch", 'resolve PR-1 "extinguished"')
    ready.ok("Dana Dispatch", "lead-status LD-7 contacted")
    ready.ok("Dana Dispatch", "lead-status LD-6 lost")
    clock.advance(hours=6)
    digest = {f.label: f.value for f in ready.ok("Morgan Manager", "digest").fields}
    problems = digest["Open problems (6)"]
    assert problems.splitlines()[0] == ("• PR-2 · SR-1 · DST patch, Main St office, Tom Tech (Contoso Field Services), "
                                        "6 hours old: “printer 1 on fire”")
    assert "PR-1 " not in problems and problems.endswith("…and 1 more: `problems`")
    leads = digest["Leads to follow up (6)"]
    assert leads.splitlines()[0].startswith("• LD-7 · contacted · SR-1") and "LD-6 " not in leads
    assert len(leads.splitlines()) == 6 and leads.endswith("…and 1 more: `leads`")


def test_help_lists_the_follow_up_commands_with_examples_that_parse(ready):
    from handlers.registry import REGISTRY, parse

    dispatcher = ready.ok("Dana Dispatch", "help").text
    assert "`problems`" in dispatcher and "`leads`" in dispatcher and "`lead-status LD-5" in dispatcher
    assert "`lead-status" not in ready.ok("Tom Tech", "help").text
    for name in ("problems", "leads", "lead-status"):
        assert type(parse(REGISTRY[name].example)) is REGISTRY[name].model


def test_the_same_lead_sent_twice_at_once_is_still_one_lead(ready):
    on_site(ready)
    barrier, replies = threading.Barrier(2), []

    def send(text: str):
        barrier.wait()
        replies.append(ready.say("Tom Tech", text))

    shouted = 'lead SR-1 "WANTS A QUOTE FOR 5 NEW LAPTOPS"'
    threads = [threading.Thread(target=send, args=(text,)) for text in (LAPTOPS, shouted)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r.ok for r in replies), [r.text for r in replies]
    assert sorted("LD-1" in r.text for r in replies) == [True, True]
    assert len(leads_in_db(ready)) == 1 and len(audited(ready, "lead.handed_back")) == 1
