"""Files for the sender (a CSV export): uploaded to their DM with Surge, after the answer was sent.

`files_upload_v2` is Slack's upload flow (`files.getUploadURLExternal`, the bytes to the URL it gives,
then `files.completeUploadExternal` sharing the file in the conversation); the DM comes from
`conversations.open`. Files are small (a month's CSV), so they are sent in one piece.
"""
from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.types import FileOut, Reply

log = logging.getLogger("surge.slack")


def noting_the_dm(reply: Reply) -> Reply:
    """The sender's answer, saying where the file went."""
    if reply.file is None:
        return reply
    return reply.model_copy(update={"text": f"{reply.text}\nSent {reply.file.name} to your DM with Surge."})


async def send_to_dm(client: AsyncWebClient, user_id: str, file: FileOut) -> str | None:
    """Upload `file` into the DM with `user_id`; returns why it failed, or None."""
    try:
        opened = await client.conversations_open(users=user_id)
        await client.files_upload_v2(channel=opened["channel"]["id"], content=file.content.encode("utf-8"),
                                     filename=file.name, title=file.name)
    except SlackApiError as exc:
        log.warning("slack: a file for the sender could not be uploaded: %s", exc.response.get("error"))
        return str(exc.response.get("error") or "Slack refused it")
    return None
