"""`status` tells home staff which Teams channels of a request never spoke to Surge (so Teams gives
Surge no way to post its card there), and how to fix it; partners never see it."""
from __future__ import annotations

from handlers.types import Identity
from models.queries import unreachable_teams_channels
from models.tables import Channel, ConversationReference

DANA, TOM = "Dana Dispatch", "Tom Tech"
TEAMS_PARTNERS = "19:partners@thread.tacv2"  # tier 2 in examples/roster.yml
NOT_SPOKEN = f"Teams channel {TEAMS_PARTNERS} (partners, tier 2) has not spoken to Surge yet"


def heard_from(db, channel_id: str) -> None:
    """What the Teams adapter stores when someone speaks in the channel (or the app is added to it)."""
    with db.session() as s:
        s.add(ConversationReference(platform="teams", conversation_id=channel_id, kind="channel",
                                    channel_id=channel_id, service_url="https://smba.example/amer/"))


def test_the_query_lists_roster_teams_channels_without_a_reference(core):
    with core.db.session() as s:
        assert [c.external_id for c in unreachable_teams_channels(session=s)] == [TEAMS_PARTNERS]
        s.add(Channel(platform="teams", external_id="19:dispatch@thread.tacv2", purpose="dispatch"))
    heard_from(core.db, TEAMS_PARTNERS)
    with core.db.session() as s:
        assert [c.external_id for c in unreachable_teams_channels(session=s)] == ["19:dispatch@thread.tacv2"]


def test_home_staff_are_told_which_teams_channel_cannot_get_the_card(chat):
    chat.ok(DANA, 'request "Tier two patch" units=5 deadline=2027-03-10 pay=35 town=Hicksville tier=2')
    text = chat.ok(DANA, "status SR-1").text
    assert NOT_SPOKEN in text
    assert "add the Surge app to its team, or @mention Surge in the channel once" in text
    assert "SR-1's card can't be posted there" in text
    assert "has not spoken" not in chat.ok(TOM, "status SR-1").text  # a partner's view stays about the work
    heard_from(chat.core.db, TEAMS_PARTNERS)
    assert "has not spoken" not in chat.ok(DANA, "status SR-1").text


def test_only_the_channels_a_request_goes_to_are_named(chat):
    chat.ok(DANA, 'request "Tier one patch" units=5 deadline=2027-03-10 pay=35 town=Hicksville')
    assert "has not spoken" not in chat.ok(DANA, "status SR-1").text  # the Teams channel is tier 2
    chat.ok(DANA, 'request "Tier two patch" units=5 deadline=2027-03-10 pay=35 town=Hicksville tier=2')
    chat.ok(DANA, "cancel SR-2")
    assert "has not spoken" not in chat.ok(DANA, "status SR-2").text  # nothing more will be posted


def test_the_same_answer_on_every_platform(chat):
    chat.ok(DANA, 'request "Tier two patch" units=5 deadline=2027-03-10 pay=35 town=Hicksville tier=2')
    slack = chat.core.handle_text(Identity(platform="slack", user_id="U0DANA"), "status SR-1")
    teams = chat.core.handle_text(Identity(platform="teams", user_id="29:1dana"), "status SR-1")
    assert NOT_SPOKEN in slack.text and slack.text == teams.text
