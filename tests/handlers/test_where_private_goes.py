"""Where an answer marked private may be shown (handlers/privacy.py): decided on the roster, not by an edge."""
from __future__ import annotations

import pytest

from handlers.privacy import goes_to_sender_alone


@pytest.mark.parametrize(("private", "one_to_one", "platform", "channel", "alone"), [
    (False, False, "slack", "C0PARTNERS", False),  # nothing private: shown where asked, anywhere
    (True, True, "teams", None, False),  # a one-to-one chat is the sender's own
    (True, False, "slack", "C0DISPATCH", False),  # home staff's channels
    (True, False, "slack", "C0MANAGERS", False),
    (True, False, "slack", "C0PARTNERS", True),  # a partner channel
    (True, False, "teams", "19:partners@thread.tacv2", True),
    (True, False, "teams", "C0DISPATCH", True),  # the id of a dispatch channel, on another platform
    (True, False, "teams", "19:not-on-the-roster@thread.tacv2", True),
    (True, False, "teams", None, True),  # a group chat, or a conversation that can't be placed
])
def test_a_private_answer_goes_to_its_sender_alone_unless_asked_where_only_they_or_home_staff_read(
        roster_db, private, one_to_one, platform, channel, alone):
    decided = roster_db.read(lambda s: goes_to_sender_alone(s, private=private, platform=platform,
                                                            one_to_one=one_to_one, channel_id=channel))
    assert decided is alone
