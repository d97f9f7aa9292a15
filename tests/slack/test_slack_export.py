"""`/surge export` in Slack: the answer says where the file went, and the CSV reaches the manager's DM
through Slack's upload flow (`conversations.open`, `files.getUploadURLExternal`, the bytes, then
`files.completeUploadExternal`)."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlmodel import select

from models.tables import Claim
from tests.harness import wait_for
from tests.slack.conftest import DISPATCH
from tests.slack.test_slack_flow import ready


def test_export_uploads_the_csv_to_the_managers_dm(slack):
    ready(slack)
    assert "You have 4 units" in slack.command("U0TOM", "claim SR-1 4").text
    slack.command("U0TOM", "done SR-1")
    assert "Verified" in slack.command("U0DANA", 'verify SR-1 "Tom Tech"', channel=DISPATCH).text
    with slack.stack.core.db.session() as s:  # the work counts in March 2027
        claim = s.exec(select(Claim)).one()
        claim.verified_at = datetime(2027, 3, 15, 15, 0, tzinfo=UTC)
        s.add(claim)
        s.commit()
    answer = slack.command("U0MORGAN", "export payables month=2027-03", channel=DISPATCH)
    assert answer.status == 200 and answer.body["response_type"] == "ephemeral"
    assert "Sent surge-payables-2027-03.csv to your DM with Surge" in answer.text
    done = slack.wait_sent("files.completeUploadExternal")[0]
    assert done["channel_id"] == "D0MORGAN"
    assert slack.fake.sent("conversations.open", users="U0MORGAN")
    asked = slack.fake.sent("files.getUploadURLExternal")[0]
    assert asked["filename"] == "surge-payables-2027-03.csv"
    (content,) = wait_for(lambda: slack.fake.uploads, what="the file's bytes")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    assert [(r["partner"], r["request"], r["tech"], r["units"], r["pay_rate"], r["amount"]) for r in rows] == [
        ("Contoso Field Services", "SR-1", "Tom Tech", "4", "35.00", "140.00")]
    assert int(asked["length"]) == len(content)


def test_an_answer_without_a_file_uploads_nothing(slack):
    assert "Sent" not in slack.command("U0MORGAN", "statement month=2027-03", channel=DISPATCH).text
    assert slack.fake.sent("files.getUploadURLExternal") == [] and slack.fake.uploads == []
