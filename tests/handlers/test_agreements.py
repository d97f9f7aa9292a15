"""Signing the agreement, acknowledging the guidelines, capacity math, vetting, help and replays."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from handlers.types import ActionKind, Form, Identity
from models.tables import AuditEntry, GuidelineAck, Org, Signature


def test_agreement_shows_text_version_and_sign_button_to_partner_admin(chat):
    reply = chat.ok("Paula Admin", "agreement")
    assert "version 2027-01" in reply.title and "shall not solicit" in reply.text
    assert "not signed" in str(reply.fields)
    [sign] = reply.actions
    assert sign.kind is ActionKind.SIGN
    assert chat.ok("Paula Admin", "sign").form is Form.SIGN  # the button opens the form


def test_tech_sees_who_can_sign_and_home_sees_every_partner(chat):
    tech = chat.ok("Tom Tech", "agreement")
    assert not tech.actions and "Paula Admin" in str(tech.fields)
    home = chat.ok("Dana Dispatch", "agreement")
    fields = {f.label: f.value for f in home.fields}
    assert fields["Contoso Field Services"] == "not signed"
    assert fields["Fabrikam Tech"].startswith("signed by Frank Fabrikam")


def test_signing_records_who_when_version_and_text_hash(chat, clock):
    reply = chat.ok("Paula Admin", 'sign "paula  ADMIN"')  # case and spacing forgiven
    assert "valid until" in reply.text
    with chat.core.db.session() as s:
        sig = s.exec(select(Signature).where(Signature.method == "chat")).one()
        audit = s.exec(select(AuditEntry).where(AuditEntry.action == "agreement.signed")).one()
    assert sig.signed_at == clock.now and sig.expires_at == clock.now.replace(year=2028)
    assert len(sig.text_hash) == 64 and audit.detail["text_hash"] == sig.text_hash
    assert "already" in chat.refused("Paula Admin", 'sign "Paula Admin"').text


def test_signing_refusals(chat):
    assert "doesn't match your name" in chat.refused("Paula Admin", 'sign "Someone Else"').text
    assert "Only partner admins" in chat.refused("Tom Tech", 'sign "Tom Tech"').text
    assert "Only partner admins" in chat.refused("Dana Dispatch", 'sign "Dana Dispatch"').text


def test_guidelines_show_four_sections_and_ack_once(chat):
    reply = chat.ok("Tom Tech", "guidelines")
    assert len(reply.fields) == 4 and reply.actions[0].command == "guidelines ack"
    chat.ok("Tom Tech", "guidelines ack")
    again = chat.ok("Tom Tech", "guidelines ack")
    assert "already" in again.text
    with chat.core.db.session() as s:
        assert len(s.exec(select(GuidelineAck)).all()) == 1
    assert not chat.ok("Tom Tech", "guidelines").actions
    assert "Only partner techs" in chat.refused("Dana Dispatch", "guidelines ack").text
    assert "only `ack`" in chat.refused("Tom Tech", "guidelines nope").text


def test_capacity_finds_the_shortfall_and_offers_to_post_it(chat):
    reply = chat.ok("Dana Dispatch", "capacity units=600 minutes=30 techs=4 hours=6 by=2027-03-10 days=8")
    # 4 techs × 6 h × 8 days = 192 h = 384 units; 600 − 384 = 216
    assert reply.title == "Shortfall: 216 units"
    [post] = reply.actions
    assert post.kind is ActionKind.POST_REQUEST and post.prefill["units"] == "216"
    fine = chat.ok("Dana Dispatch", "capacity units=100 minutes=30 techs=8 hours=6 by=2027-03-10")
    assert fine.title == "No shortfall"


def test_capacity_counts_days_to_the_deadline_and_checks_input(chat):
    # Mon 1 Mar to Wed 10 Mar 2027 inclusive = 10 days; 1 tech × 1 h × 10 days = 20 units of 30 min
    reply = chat.ok("Morgan Manager", "capacity units=50 minutes=30 techs=1 hours=1 by=2027-03-10")
    assert reply.title == "Shortfall: 30 units" and not reply.actions  # managers don't post
    assert "already passed" in chat.refused("Dana Dispatch", "capacity units=5 minutes=30 techs=1 hours=1 by=2020-01-01").text
    assert "at most 24" in chat.refused("Dana Dispatch", "capacity units=5 minutes=30 techs=1 hours=25 by=2027-03-10").text
    assert "needs techs=" in chat.refused("Dana Dispatch", "capacity units=5 minutes=30 hours=1 by=2027-03-10").text
    assert "Only dispatchers or managers" in chat.refused("Tom Tech", "capacity units=5 minutes=30 techs=1 hours=1 by=2027-03-10").text


def test_vetting_scores_and_track_record(ready):
    ready.ok("Tom Tech", "claim SR-1 10")
    ready.ok("Tom Tech", "done SR-1")
    ready.ok("Dana Dispatch", "verify SR-1 Tom")
    ready.ok("Morgan Manager", 'vet "Fabrikam Tech" quality=3 commitment=4 track=4 reputation=5 credit=2 rapport=5')
    reply = ready.ok("Morgan Manager", "partners")
    fields = {f.label: f.value for f in reply.fields}
    assert "scores 3/4/4/5/2/5" in fields["Fabrikam Tech · vetted"]
    assert "10 units verified, 100% on time" in fields["Contoso Field Services · vetted"]
    assert "score from 1" in ready.refused("Morgan Manager", "vet Fabrikam quality=6 commitment=4 track=4 reputation=5 credit=2 rapport=5").text
    assert "needs rapport=" in ready.refused("Morgan Manager", "vet Fabrikam quality=3 commitment=4 track=4 reputation=5 credit=2").text
    assert "no partner called" in ready.refused("Morgan Manager", "suspend Initech").text


def test_help_lists_only_what_the_sender_may_do(chat):
    tech = chat.ok("Tom Tech", "help").text
    assert "claim SR-7" in tech and "verify SR-7" not in tech and "vet <partner>" not in tech
    manager = chat.ok("Morgan Manager", "help").text
    assert "vet <partner>" in manager and "digest" in manager
    one = chat.ok("Tom Tech", "help claim")
    assert "claim SR-7 12" in str(one.fields)
    stranger = chat.say("Nobody", "help")
    assert stranger.ok and "not on this Surge roster" in stranger.text and "claim SR-7" not in stranger.text
    assert "Ask Morgan Manager to add you" in stranger.text  # who can, as every other refusal says


def test_a_replayed_interaction_gets_the_first_answer_and_changes_nothing(ready):
    first = ready.say("Tom Tech", "claim SR-1 5", key="slack:click:123")
    before = ready.state()
    again = ready.say("Tom Tech", "claim SR-1 5", key="slack:click:123")
    assert again == first and ready.state() == before


def test_an_unexpected_error_gives_an_id_never_a_traceback(tmp_path, caplog):
    from handlers.core import Surge
    from models.db import Database

    down = Surge(Database(f"sqlite:///{tmp_path / 'empty.db'}"))  # no tables: an error nobody planned for
    reply = down.handle_text(Identity(platform="slack", user_id="U0TOM"), "list")
    assert not reply.ok and "Something went wrong" in reply.text
    error_id = reply.text.rsplit("id: ", 1)[1].rstrip(".")
    assert error_id.startswith("E-") and "Traceback" not in reply.text
    assert error_id in caplog.text  # the log has the details under the same id


def test_times_are_shown_in_the_readers_time_zone(chat, clock):
    reply = chat.ok("Dana Dispatch", 'request "TZ" units=1 deadline=2027-03-10T09:30 pay=35 town=Hicksville')
    assert "Wed 10 Mar 2027 09:30 EST" in reply.text
    chat.core.clock = lambda: clock.now + timedelta(days=300)
    late = 'request "Late" units=1 deadline=2027-03-10 pay=35 town=Hicksville'
    assert "already passed" in chat.refused("Dana Dispatch", late).text


def test_org_status_untouched_by_gate_refusals(chat):
    chat.ok("Dana Dispatch", 'request "X" units=3 deadline=2027-03-10 pay=35 town=Hicksville')
    chat.refused("Tom Tech", "claim SR-1")
    with chat.core.db.session() as s:
        assert s.exec(select(Org).where(Org.name == "Contoso Field Services")).one().status == "vetted"


def test_identity_by_platform_ids(chat):
    slack = chat.core.handle_text(Identity(platform="slack", user_id="U0TOM"), "guidelines")
    teams = chat.core.handle_text(Identity(platform="teams", user_id="29:1tom"), "guidelines")
    assert slack.ok and teams.ok and slack.actions == teams.actions
    unknown = chat.core.handle_text(Identity(platform="slack", user_id="U0NOBODY"), "list")
    assert not unknown.ok and "not on this Surge roster" in unknown.text
