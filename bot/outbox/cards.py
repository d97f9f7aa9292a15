"""Request cards: posted once to every channel that should have one, updated in place afterwards.

Before posting, the intent is recorded as the channel's `PostedCard` (`pending:<sender>:<row>`), so a
second sender sees it (the unique key refuses its own) and a sender taking the row up after a crash
knows to look for the post before posting again (on Slack, by the post's metadata).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.notifier import Marker, Notifier
from bot.outbox.leases import Busy, Leases
from bot.outbox.targets import Failed, Fan, channels, origin, target
from bot.workers import in_background
from handlers.types import CardChange, Message
from handlers.views import request_cards
from models.db import Database
from models.queries import posted_cards
from models.tables import PENDING_POST, Channel, ChannelPurpose, OutboxMessage, PostedCard, SurgeRequest

log = logging.getLogger("surge.outbox")

PENDING = PENDING_POST


class Cards:
    def __init__(self, db: Database, notifiers: Mapping[str, Notifier], leases: Leases, fan: Fan, *,
                 home_timezone: str):
        self.db, self.notifiers, self.leases, self.fan = db, notifiers, leases, fan
        self.home_timezone = home_timezone

    def _load(self, s: Session, request_id: int):
        """The two copies of the card as the request stands now, where it is posted, where it should be,
        and which pending posts belong to a sender still at work."""
        req = s.get(SurgeRequest, request_id)
        partner, dispatch = request_cards(s, request_id, self.home_timezone)
        posted = posted_cards(session=s, request_id=request_id)  # not a deactivated channel's
        wanted = (channels(s, self.notifiers, ChannelPurpose.PARTNERS, max_tier=req.visible_tier)
                  + channels(s, self.notifiers, ChannelPurpose.DISPATCH))
        live = {c.id for c in posted if c.message_ref.startswith(PENDING) and self._live(s, c.message_ref)}
        return partner, dispatch, posted, wanted, live

    def _live(self, s: Session, pending: str) -> bool:
        owner, _, row_id = pending.removeprefix(PENDING).rpartition(":")
        return row_id.isdigit() and self.leases.live(s, owner, int(row_id))

    async def deliver(self, row: OutboxMessage, done: set[int]) -> Failed:
        """Update, post, adopt or wait on each copy of the row's request card; `done` holds the
        requests already re-rendered from their newest state in this batch."""
        payload = row.payload
        request_id, change, only = payload["request_id"], CardChange(payload["change"]), payload.get("_only")
        if change is CardChange.UPDATE and request_id in done and not only:
            return []
        mine = f"{PENDING}{self.leases.owner}:{row.id}"
        marker = Marker(outbox_id=origin(row), request_id=request_id, card=True)
        partner, dispatch, posted, wanted, live = await in_background(self.db.read, lambda s: self._load(s, request_id))

        def copy_for(purpose: ChannelPurpose) -> Any:
            return dispatch if purpose == ChannelPurpose.DISPATCH else partner

        def fits(where: Any) -> bool:
            return not only or target(where) == only

        have = {(p.platform, p.channel_id) for p in posted}
        ours = [c for c in posted if c.platform in self.notifiers and fits(c)]
        updates = [c for c in ours if not c.message_ref.startswith(PENDING)]
        # left pending by a sender that no longer holds its row (or by this row's own earlier attempt)
        orphans = [c for c in ours if c.message_ref.startswith(PENDING) and (c.id not in live or c.message_ref == mine)]
        busy = [c for c in ours if c.id in live and c.message_ref != mine]
        # a first post, or a tier the request has widened to
        posts = [c for c in wanted if (c.platform, c.external_id) not in have and fits(c)]

        async def update(card: PostedCard) -> None:
            await self.notifiers[card.platform].update(card.channel_id, card.message_ref, copy_for(card.purpose))

        async def post(channel: Channel) -> None:
            try:
                card = await in_background(self.db.run, lambda s: self._intend(s, channel, request_id, mine))
            except IntegrityError:
                raise Busy(f"{channel.platform} {channel.external_id}: another sender is posting this card") from None
            await self._post(card, copy_for(channel.purpose), marker, check=False)

        async def adopt(card: PostedCard) -> None:
            """A post that may have landed without being recorded: look for it before posting again."""
            if not await in_background(self.db.run, lambda s: _take_over(s, card, mine)):
                raise Busy(f"{card.platform} {card.channel_id}: taken up by another sender")
            await self._post(card, copy_for(card.purpose), marker, check=True)

        async def wait(card: PostedCard) -> None:
            raise Busy(f"{card.platform} {card.channel_id}: another sender is posting this card")

        failed = (await self.fan(row, updates, update) + await self.fan(row, posts, post)
                  + await self.fan(row, orphans, adopt) + await self.fan(row, busy, wait))
        if not only:
            done.add(request_id)
        return failed

    def _intend(self, s: Session, channel: Channel, request_id: int, mine: str) -> PostedCard:
        """Record the intent to post before posting."""
        card = PostedCard(request_id=request_id, platform=channel.platform, channel_id=channel.external_id,
                          message_ref=mine, purpose=channel.purpose, posted_at=self.leases.clock())
        s.add(card)
        s.flush()
        return PostedCard.model_validate(card.model_dump())

    async def _post(self, card: PostedCard, copy: Message, marker: Marker, *, check: bool) -> None:
        ref = await self.notifiers[card.platform].post(card.channel_id, copy, marker=marker, check=check)

        def record(s: Session) -> None:
            row = s.get(PostedCard, card.id)
            if row.message_ref != card.message_ref and not row.message_ref.startswith(PENDING):
                log.warning("card %s in %s was recorded twice", card.request_id, card.channel_id)
            row.message_ref, row.posted_at = ref, self.leases.clock()

        await in_background(self.db.run, record)


def _take_over(s: Session, card: PostedCard, mine: str) -> bool:
    row = s.get(PostedCard, card.id)
    if row is None or row.message_ref != card.message_ref:
        return False  # another sender got there first
    row.message_ref = card.message_ref = mine
    return True
