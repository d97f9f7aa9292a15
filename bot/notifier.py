"""The one way out: what a chat platform's notifier does for the outbox, and the marker a post
carries so that a sender can recognise its own earlier post (see `bot.outbox`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from handlers.types import Message
from models.tables import Person, Platform

EVENT_TYPE = "surge_outbox"  # Slack message metadata on everything the outbox posts


@dataclass(frozen=True)
class Marker:
    """What a post carries so a sender can recognise it later: its outbox row (the first one
    written, for a retry row) and, for a request card, the request (any card of it will do)."""

    outbox_id: int
    request_id: int | None = None
    card: bool = False

    def payload(self) -> dict:
        return {"outbox_id": self.outbox_id, "request_id": self.request_id, "kind": "card" if self.card else "message"}

    def matches(self, payload: dict) -> bool:
        if self.card:
            return payload.get("kind") == "card" and payload.get("request_id") == self.request_id
        return payload.get("outbox_id") == self.outbox_id


class Notifier(Protocol):
    """One chat platform's way out. Every method raises on failure (the target is retried).
    With `check`, a platform that can look back (Slack) first looks for a post carrying `marker`
    and returns its reference instead of posting again."""

    platform: Platform

    async def post(self, channel_id: str, message: Message, *, marker: Marker | None = None,
                   check: bool = False) -> str:
        """Post to a channel; returns the platform's message reference (for later updates)."""

    async def update(self, channel_id: str, message_ref: str, message: Message) -> None:
        """Replace a posted message in place."""

    async def direct(self, person: Person, message: Message, *, marker: Marker | None = None,
                     check: bool = False) -> str | None:
        """Send a direct message to a person; returns the message's reference when known."""

    def reaches(self, person: Person) -> bool:
        """Whether this platform knows the person."""
