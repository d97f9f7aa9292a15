"""Incidents against a partner (IN-n), the partner's answer, resolving them, and the partner's record."""
from __future__ import annotations

import pytest

from tests.conftest import audited, dms_to

SOLICIT = 'incident Contoso "tech offered the customer a direct contract" SR-1 kind=solicitation'
PRIVATE = ("Acme Dental", "12 Main St", "Ann Lee", "516-555-0101")


def test_an_incident_is_numbered_and_its_partners_admins_are_told_without_customer_details(ready):
    reply = ready.ok("Dana Dispatch", SOLICIT)
    assert "IN-1" in reply.text and "solicitation" in reply.text and "Paula Admin" in reply.text
    told = dms_to(ready, "Paula Admin")
    assert len(told) == 1 and "IN-1" in told[0]["title"]
    body = told[0]["text"]
    assert "direct contract" in body and "SR-1 · DST patch, Main St office" in body and "respond IN-1" in body
    assert not any(word in str(told[0]) for word in PRIVATE)
    assert dms_to(ready, "Tom Tech") == [] and dms_to(ready, "Frank Fabrikam") == []
    assert len(audited(ready, "incident.recorded")) == 1
    second = ready.ok("Morgan Manager", 'incident "Contoso Field Services" "left the site unlocked"')
    assert "IN-2" in second.text and "(conduct)" in second.text  # the default kind, no request needed


def test_only_dispatchers_and_managers_record_incidents_and_mistakes_are_explained(ready):
    for who in ("Tom Tech", "Paula Admin", "Frank Fabrikam"):
        assert "dispatchers or managers" in ready.refused(who, SOLICIT).text
    assert "solicitation, conduct, quality" in ready.refused(
        "Dana Dispatch", 'incident Contoso "late" kind=rude').text
    assert "no partner called" in ready.refused("Dana Dispatch", 'incident Northwind "late"').text
    assert "There is no SR-99" in ready.refused("Dana Dispatch", 'incident Contoso "late" SR-99').text
    assert "needs the text" in ready.refused("Dana Dispatch", "incident Contoso").text


def test_only_the_partners_own_admin_responds_and_the_reporter_is_told(ready):
    ready.ok("Dana Dispatch", SOLICIT)
    assert "not about your company" in ready.refused("Frank Fabrikam", 'respond IN-1 "not us"').text
    assert "partner admins" in ready.refused("Tom Tech", 'respond IN-1 "not me"').text
    assert "partner admins" in ready.refused("Dana Dispatch", 'respond IN-1 "hm"').text
    assert "There is no IN-7" in ready.refused("Paula Admin", 'respond IN-7 "hm"').text
    assert "answers an incident, like IN-3" in ready.refused("Paula Admin", 'respond PR-1 "hm"').text
    reply = ready.ok("Paula Admin", 'respond IN-1 "the customer asked him; he declined"')
    assert "kept beside IN-1" in reply.text
    told = dms_to(ready, "Dana Dispatch")
    assert len(told) == 1 and "Paula Admin (Contoso Field Services) responded to IN-1" in told[0]["text"]
    assert "he declined" in told[0]["text"]
    again = ready.ok("Paula Admin", 'respond in-1 "he declined and told dispatch"')
    assert "replaces your earlier one" in again.text
    assert "he declined and told dispatch" in str(ready.ok("Morgan Manager", "partners").fields)


def test_resolve_closes_an_incident_once_and_other_ids_wait_for_their_features(ready):
    ready.ok("Dana Dispatch", SOLICIT)
    assert "dispatchers or managers" in ready.refused("Paula Admin", 'resolve IN-1 "done"').text
    assert "units= credits a dispute" in ready.refused("Dana Dispatch", 'resolve IN-1 "ok" units=2').text
    reply = ready.ok("Morgan Manager", 'resolve IN-1 "spoke with their owner; the tech no longer works our jobs"')
    assert "IN-1 (solicitation, Contoso Field Services) is resolved" in reply.text
    closed = [m for m in dms_to(ready, "Paula Admin") if "closed" in (m["title"] or "")]
    assert len(closed) == 1 and "no longer works" not in closed[0]["text"]  # the home MSP's own note
    assert "resolved already by Morgan Manager" in ready.refused("Dana Dispatch", 'resolve IN-1 "again"').text
    assert "There is no PR-4" in ready.refused("Dana Dispatch", 'resolve PR-4 "fixed"').text
    assert "There is no DS-2" in ready.refused("Dana Dispatch", 'resolve DS-2 "credited"').text
    assert "not an id Surge resolves" in ready.refused("Dana Dispatch", 'resolve XY-2 "x"').text
    assert "not an id like IN-3" in ready.refused("Dana Dispatch", 'resolve banana "x"').text
    assert "There is no IN-9" in ready.refused("Dana Dispatch", 'resolve IN-9 "x"').text
    assert len(audited(ready, "incident.resolved")) == 1


def test_open_incidents_show_with_age_and_response_in_partners_and_the_digest(ready, clock):
    ready.ok("Dana Dispatch", SOLICIT)
    ready.ok("Dana Dispatch", 'incident Fabrikam "rude to the receptionist"')
    ready.ok("Paula Admin", 'respond IN-1 "he declined the offer"')
    clock.advance(days=3)
    fields = {f.label.split(" · ")[0]: f.value for f in ready.ok("Morgan Manager", "partners").fields}
    assert "open incident IN-1 solicitation on SR-1, 3 days old" in fields["Contoso Field Services"]
    assert "they responded: “he declined the offer”" in fields["Contoso Field Services"]
    assert "IN-2 conduct, 3 days old" in fields["Fabrikam Tech"] and "no response yet" in fields["Fabrikam Tech"]
    digest = {f.label: f.value for f in ready.ok("Morgan Manager", "digest").fields}
    assert "Contoso Field Services: IN-1" in digest["Open incidents"]
    assert "Fabrikam Tech: IN-2" in digest["Open incidents"]
    ready.ok("Dana Dispatch", 'resolve IN-1 "talked it through"')
    fields = {f.label.split(" · ")[0]: f.value for f in ready.ok("Morgan Manager", "partners").fields}
    assert "IN-1" not in fields["Contoso Field Services"]
    digest = {f.label: f.value for f in ready.ok("Morgan Manager", "digest").fields}
    assert "IN-1" not in digest["Open incidents"] and "IN-2" in digest["Open incidents"]


def _work(chat) -> None:
    chat.ok("Tom Tech", "claim SR-1 12")
    chat.ok("Tom Tech", "start SR-1")
    chat.ok("Tom Tech", "done SR-1 10")
    chat.ok("Dana Dispatch", 'verify SR-1 "Tom Tech" 10')
    chat.ok("Tom Tech", 'lead SR-1 "wants a quote for new laptops"')


def test_record_shows_the_measured_work_per_tech_and_the_incidents(ready):
    _work(ready)
    ready.ok("Dana Dispatch", SOLICIT)
    ready.ok("Paula Admin", 'respond IN-1 "he declined"')
    own = ready.ok("Paula Admin", "record")
    assert own.title.startswith("Record · Contoso Field Services")
    assert "12 units taken · 10 verified · 100% on time" in own.text and "1 lead handed back" in own.text
    assert "1 incident (1 open, 1 with a response)" in own.text
    tom = next(f.value for f in own.fields if f.label == "Tom Tech")
    assert "12 units taken, 10 verified" in tom and "0 claims revoked" in tom and "1 lead" in tom
    inc = next(f for f in own.fields if f.label.startswith("IN-1"))
    assert "direct contract" in inc.value and "Response: “he declined”" in inc.value
    assert not any(word in str(own.model_dump()) for word in PRIVATE)
    managers = ready.ok("Morgan Manager", "record contoso")
    assert managers.text == own.text
    assert "12 units taken" not in ready.ok("Morgan Manager", "record Fabrikam").text


def test_record_is_a_partner_admins_own_and_any_for_a_manager(ready):
    assert "Contoso Field Services's record only" in ready.refused("Paula Admin", "record Fabrikam").text
    every = ready.ok("Morgan Manager", "record")  # no partner named: every partner's, in a line each
    assert [f.label for f in every.fields] == ["Contoso Field Services · vetted", "Fabrikam Tech · vetted"]
    for who in ("Tom Tech", "Dana Dispatch"):
        assert "Only managers or partner admins can use `record`" in ready.refused(who, "record Contoso").text
    assert ready.ok("Frank Fabrikam", "record").title.startswith("Record · Fabrikam Tech")


def test_help_lists_the_new_commands_to_who_may_use_them_with_examples_that_parse(ready):
    from handlers.registry import REGISTRY, parse

    manager = ready.ok("Morgan Manager", "help").text
    assert "`incident <partner>" in manager and "`resolve IN-3" in manager and "`record [partner]`" in manager
    assert "`respond" not in manager
    admin = ready.ok("Paula Admin", "help").text
    assert "`respond IN-3" in admin and "`record [partner]`" in admin and "`incident" not in admin
    assert "Example" in str(ready.ok("Paula Admin", "help respond").fields)
    for name in ("incident", "respond", "resolve", "record"):
        assert type(parse(REGISTRY[name].example)) is REGISTRY[name].model


def test_record_counts_claims_taken_back(ready):
    from handlers.registry import REGISTRY

    if "revoke" not in REGISTRY:
        pytest.skip("`revoke` is not in this build")
    ready.ok("Tom Tech", "claim SR-1 5")
    ready.ok("Dana Dispatch", 'revoke SR-1 "Tom Tech" "customer asked for another tech"')
    own = ready.ok("Paula Admin", "record")
    assert "1 claim revoked" in own.text
    assert "5 units taken" in next(f.value for f in own.fields if f.label == "Tom Tech")
