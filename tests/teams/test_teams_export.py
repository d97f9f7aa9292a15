"""`export` typed in Teams: Teams can't receive a file from Surge in a chat (that needs a consent card
flow), so the answer says where to get it, and no attachment is sent."""
from __future__ import annotations

from tests.teams.conftest import MORGAN


def test_export_in_teams_points_to_the_command_line_or_slack(teams):
    (reply,) = teams.say(MORGAN, "export payables month=2027-03")
    assert "Teams can't receive files from Surge here: use `surge export payables --month 2027-03` or Slack." \
        in reply.text
    assert "partner,request,title" not in reply.text
    assert all(a.get("contentType") == "application/vnd.microsoft.card.adaptive"
               for a in reply.body.get("attachments") or [])
