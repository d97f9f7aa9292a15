"""Answers that name a customer reach only the person who asked: routed on the reply's `private` flag
(whatever the text looks like once escaped), and into the chat of the Teams id the roster names today."""
from __future__ import annotations

import yaml
from typer.testing import CliRunner

from bot.main import cli
from tests.harness import wait_for
from tests.teams.conftest import DANA, DISPATCH, PARTNERS, PAULA, POST_SR1, TOM, start_surge, teams_roster
from tests.teams.fake_connector import Teams, button, card_of

CONTACT = 'Ann "Annie" Lee 516-555-0101'
SITE = "12 Main St\nSuite 4"


def shows_site(call) -> bool:
    """The site, as a card shows a multi-line one (a line a TextBlock)."""
    return all(line in call.strings for line in SITE.splitlines())


def post_by_form(teams: Teams, dispatcher: str, **inputs) -> None:
    """A dispatcher fills in the request form in their chat with Surge and posts it."""
    form = teams.say(dispatcher, "request")[0].card
    fields = {"title": "DST patch", "units": 40, "deadline": "2027-03-10", "deadline_time": "17:00", "pay": "35",
              "bill": "60", "town": "Hicksville", "approval": "no", "tier": "2", **inputs}
    _, answer, _ = teams.click(dispatcher, button(form, "Post"), inputs=fields)
    assert "Posted **SR-1**" in str(card_of(answer))


def take_a_claim(teams: Teams, tech: str, units: int = 12, *, channel: str | None = None) -> None:
    teams.say(PAULA, 'sign "Paula Admin"')
    teams.say(tech, "guidelines ack", channel=channel)
    answer = teams.say(tech, f"claim SR-1 {units}", channel=channel)
    assert any("You have" in c.text or "one-to-one" in c.text for c in answer), [c.strings for c in answer]


def test_a_private_answer_asked_in_a_partner_channel_goes_to_the_askers_chat(installed, connector, surge):
    post_by_form(installed, DANA, contact=CONTACT, site=SITE)
    take_a_claim(installed, TOM)
    wait_for(lambda: [c for c in connector.dms_to(TOM) if "Your job: SR-1" in c.text], what="Tom's job DM")
    before = len(connector.calls)

    replies = installed.say(TOM, "status SR-1", channel=PARTNERS)

    assert replies, "the channel got no answer at all"
    for reply in replies:
        assert CONTACT not in reply.strings and SITE not in reply.strings
        assert "Annie" not in reply.strings and "Suite 4" not in reply.strings
        assert "one-to-one" in reply.strings
    dm = wait_for(lambda: [c for c in connector.calls[before:] if c in connector.dms_to(TOM)], what="the DM")
    assert CONTACT in dm[0].strings and shows_site(dm[0])
    in_channel = [c for c in connector.calls[before:] if (c.conversation or "").startswith(PARTNERS)]
    assert all("Annie" not in c.strings and "Suite 4" not in c.strings for c in in_channel)


def test_a_private_answer_in_the_dispatch_channel_stays_there(installed, connector, surge):
    post_by_form(installed, DANA, contact=CONTACT, site=SITE)
    (reply,) = installed.say(DANA, "status SR-1", channel=DISPATCH)
    assert CONTACT in reply.strings and shows_site(reply)


def test_a_public_answer_in_a_partner_channel_is_answered_there(installed, connector, surge):
    post_by_form(installed, DANA, contact=CONTACT, site=SITE)
    (reply,) = installed.say(TOM, "status SR-1", channel=PARTNERS)  # Tom has no claim: the partner view
    assert "SR-1" in reply.strings and "Annie" not in reply.strings and "one-to-one" not in reply.strings


def roster_with(ids: dict[str, str]) -> str:
    data = yaml.safe_load(teams_roster())
    for person in data["people"]:
        if person["name"] in ids:
            person["teams"] = ids[person["name"]]
    return yaml.safe_dump(data, sort_keys=False)


def test_a_dm_reaches_the_teams_id_the_roster_names_today(db_url, clock, connector, tmp_path):
    running = start_surge(db_url, clock, roster=roster_with({"Tom Tech": "user-id-0"}))
    try:
        teams = Teams(running.server.url, connector)
        teams.install(channel=PARTNERS)
        teams.install(channel=DISPATCH)
        teams.say("user-id-0", "help")  # Tom, in his one-to-one chat, under his old Teams id
        # the roster is reloaded: Tom has a new Teams id, and his old one is now Dana's
        reloaded = tmp_path / "roster.yml"
        for ids in ({"Tom Tech": "user-id-5"}, {"Tom Tech": "user-id-5", "Dana Dispatch": "user-id-0"}):
            reloaded.write_text(roster_with(ids), encoding="utf-8")  # one id can't change hands in one load
            result = CliRunner().invoke(cli, ["roster", "load", str(reloaded)], env={"DATABASE_URL": db_url})
            assert result.exit_code == 0, result.output
        posted = teams.say("user-id-0", POST_SR1, channel=DISPATCH)  # Dana, in the dispatch channel
        assert any("Posted" in c.text for c in posted), [c.strings for c in posted]
        take_a_claim(teams, "user-id-5", channel=PARTNERS)  # Tom, under his new id
        job = wait_for(lambda: [c for c in connector.dms_to("user-id-5") if "Your job: SR-1" in c.text],
                       what="Tom's job DM in the chat of his Teams id today")
        assert "Ann Lee 516-555-0101" in job[0].strings
        assert not [c for c in connector.in_conversation("a:1on1-user-id-0") if "Your job" in c.text], \
            "Tom's job went into the chat of his old Teams id, which is Dana's now"
    finally:
        running.server.stop()
        running.core.db.dispose()
