"""A roster load deactivates who and what it no longer lists, and reactivates them when listed again."""
from __future__ import annotations

from sqlmodel import SQLModel, select

from bot.outbox import Outbox
from handlers.roster import load_roster
from handlers.types import Audience
from models.tables import Channel, Person
from tests.conftest import ROSTER, Chat
from tests.test_cli import surge
from tests.test_outbox import Platform, drain

EXAMPLE = ROSTER.read_text()
TOM = "  - name: Tom Tech\n    org: Contoso Field Services\n    roles: [tech]\n    slack: U0TOM\n    teams: \"29:1tom\"\n"
PARTNERS_CHANNEL = "  - platform: slack\n    id: C0PARTNERS\n    purpose: partners\n    tier: 1\n"
PRIVATE = ("Acme Dental", "12 Main St", "Ann Lee", "516-555-0101")


def without(*blocks: str) -> str:
    text = EXAMPLE
    for block in blocks:
        assert block in text
        text = text.replace(block, "")
    return text


def snapshot(db) -> dict[str, list]:
    with db.engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(t.select().order_by(*t.primary_key))]
                for t in SQLModel.metadata.sorted_tables}


def active(db, model, **where) -> bool:
    with db.session() as s:
        row = s.exec(select(model).filter_by(**where)).one()
        return row.active


def test_a_person_left_out_is_deactivated_and_their_open_claims_go_to_the_dispatchers(ready, clock):
    ready.ok("Tom Tech", "claim SR-1 12")
    db = ready.core.db
    changes = load_roster(db, without(TOM), now=clock())
    assert changes == ["deactivated person Tom Tech (Contoso Field Services): "
                       "open claims SR-1 · DST patch, Main St office: 12 units, active"]
    assert not active(db, Person, name="Tom Tech")
    told = ready.messages_to(Audience.DISPATCH)[-1]
    assert "Tom Tech (Contoso Field Services): SR-1 · DST patch, Main St office: 12 units" in told["text"]
    assert "Revoke or reassign" in told["text"] and not any(word in told["text"] for word in PRIVATE)


def test_a_deactivated_person_cannot_act_on_any_platform_and_is_told_why(ready, clock):
    ready.ok("Tom Tech", "claim SR-1 12")
    load_roster(ready.core.db, without(TOM), now=clock())
    for chat, who in ((ready, "Tom Tech"), (Chat(ready.core, platform="slack"), "U0TOM"),
                      (Chat(ready.core, platform="teams"), "29:1tom")):
        reply = chat.refused(who, "release SR-1")
        assert "You were deactivated on this Surge roster" in reply.text and "Morgan Manager" in reply.text
    assert "You were deactivated" in ready.ok("Tom Tech", "help").text  # and `help` says so too
    assert "not on this Surge roster yet" in ready.refused("Nobody Here", "list").text  # strangers as before


def test_loading_the_same_file_twice_changes_nothing(ready, clock):
    ready.ok("Tom Tech", "claim SR-1 12")
    db = ready.core.db
    assert load_roster(db, without(TOM, PARTNERS_CHANNEL), now=clock())
    before, dispatch = snapshot(db), len(ready.messages_to(Audience.DISPATCH))
    assert load_roster(db, without(TOM, PARTNERS_CHANNEL), now=clock()) == []
    assert snapshot(db) == before and len(ready.messages_to(Audience.DISPATCH)) == dispatch


def test_listing_them_again_reactivates_them_with_their_claims(ready, clock):
    ready.ok("Tom Tech", "claim SR-1 12")
    db = ready.core.db
    load_roster(db, without(TOM, PARTNERS_CHANNEL), now=clock())
    assert load_roster(db, EXAMPLE, now=clock()) == ["reactivated person Tom Tech",
                                                     "reactivated slack channel C0PARTNERS"]
    assert active(db, Person, name="Tom Tech") and active(db, Channel, external_id="C0PARTNERS")
    assert "Released 2 units of SR-1" in ready.ok("Tom Tech", "release SR-1 2").text
    assert load_roster(db, EXAMPLE, now=clock()) == []


def test_a_deactivated_channel_gets_no_cards_and_a_deactivated_person_no_messages(ready, clock):
    ready.ok("Tom Tech", "claim SR-1 12")
    ready.ok("Tom Tech", "start SR-1")
    ready.ok("Tom Tech", "done SR-1")
    slack = Platform("slack")
    outbox = Outbox(ready.core.db, [slack], clock=clock)
    drain(outbox)
    slack.got.clear()
    changes = load_roster(ready.core.db, without(TOM, PARTNERS_CHANNEL), now=clock())
    assert "deactivated slack channel C0PARTNERS" in changes
    assert "done" in changes[-1] and "Tom Tech" in changes[-1]  # a claim reported done is still open
    ready.ok("Dana Dispatch", 'verify SR-1 "Tom Tech"')  # Tom would be told: he is not
    ready.ok("Dana Dispatch", 'request "Printer swap" units=3 deadline=2027-03-12 pay=40 town=Mineola')
    drain(outbox)
    posts = [(kind, where) for kind, where, _ in slack.got if kind == "post"]
    assert ("post", "C0PARTNERS") not in posts and ("post", "C0DISPATCH") in posts
    assert not [got for got in slack.got if got[0] == "update" and got[1] == "C0PARTNERS"]
    assert not [got for got in slack.got if got[0] == "dm" and got[1] == "Tom Tech"]
    load_roster(ready.core.db, EXAMPLE, now=clock())
    ready.ok("Dana Dispatch", 'request "Router swap" units=2 deadline=2027-03-12 pay=40 town=Mineola')
    drain(outbox)
    assert ("post", "C0PARTNERS") in [(kind, where) for kind, where, _ in slack.got]


def console(tmp_path, who: str, text: str) -> str:
    result = surge(["console", "--as", who], tmp_path, stdin=text + "\n")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_surge_roster_load_prints_who_was_deactivated_with_their_claims(tmp_path):
    assert surge(["roster", "load", str(ROSTER)], tmp_path).returncode == 0
    console(tmp_path, "Paula Admin", 'sign "Paula Admin"')
    console(tmp_path, "Tom Tech", "guidelines ack")
    console(tmp_path, "Dana Dispatch", 'request "Patch" units=5 deadline=2030-01-10 pay=35 town=Hicksville')
    assert "SR-1" in console(tmp_path, "Tom Tech", "claim SR-1 3")
    smaller = tmp_path / "smaller.yml"
    smaller.write_text(without(TOM, PARTNERS_CHANNEL))
    first = surge(["roster", "load", str(smaller)], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "deactivated person Tom Tech (Contoso Field Services): open claims SR-1 · Patch: 3 units, active" \
        in first.stdout
    assert "deactivated slack channel C0PARTNERS" in first.stdout
    assert surge(["roster", "load", str(smaller)], tmp_path).stdout.strip() == "nothing changed"
    assert "deactivated" in console(tmp_path, "Tom Tech", "list")
    again = surge(["roster", "load", str(ROSTER)], tmp_path)
    assert again.stdout.split("\n")[:2] == ["reactivated person Tom Tech", "reactivated slack channel C0PARTNERS"]
