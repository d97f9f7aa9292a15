"""Delivers the outbox: what handlers wrote for channels and DMs, through each platform's notifier.

A row is leased (status `sending`, lease until `next_attempt_at`) in a short transaction, delivered
outside any transaction, then marked `sent`. Two processes never deliver the same row: on
PostgreSQL the lease takes rows with `FOR UPDATE SKIP LOCKED`; on SQLite writers are serialised.
A failed delivery is retried with exponential backoff; a crash after commit loses nothing, since
an expired lease is taken again. Card updates for one request are coalesced: the card is
re-rendered from the database as it stands, so the newest state always wins.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from sqlalchemy import or_
from sqlmodel import Session, select

from bot.workers import in_background
from handlers.types import Audience, CardChange, Message
from handlers.views import request_cards
from models.db import Database
from models.tables import Channel, OutboxMessage, Person, PostedCard, SurgeRequest
from models.types import utcnow

log = logging.getLogger("surge.outbox")

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8
LANES = (("message",), ("card",))  # delivered side by side; rows of one lane in order


class Notifier(Protocol):
    """One chat platform's way out. Every method raises on failure (the row is retried)."""

    platform: str

    async def post(self, channel_id: str, message: Message) -> str:
        """Post to a channel; returns the platform's message reference (for later updates)."""

    async def update(self, channel_id: str, message_ref: str, message: Message) -> None:
        """Replace a posted message in place."""

    async def direct(self, person: Person, message: Message) -> None:
        """Send a direct message to a person."""

    def reaches(self, person: Person) -> bool:
        """Whether this platform knows the person."""


class Outbox:
    def __init__(self, db: Database, notifiers: Sequence[Notifier], *, home_timezone: str = "UTC", clock=utcnow):
        self.db = db
        self.notifiers = {n.platform: n for n in notifiers}
        self.home_timezone = home_timezone
        self.clock = clock
        self.concurrency = 8  # targets delivered at once; each platform paces its own channels
        self._wakes: dict[tuple[str, ...], asyncio.Event] = {}
        self._stopping = False

    def wake(self) -> None:
        """Deliver soon (called after a handler committed something for others)."""
        for event in self._wakes.values():
            event.set()

    async def run_forever(self, *, idle: float = 2.0) -> None:
        """Deliver until `stop()` (or the task is cancelled), in two lanes: direct messages and
        channel messages in one, request cards in the other, so a claimant's DM never waits behind
        a card's fan-out to hundreds of channels."""
        self._stopping = False
        await asyncio.gather(*(self._lane(kinds, idle) for kinds in LANES))

    async def _lane(self, kinds: tuple[str, ...], idle: float) -> None:
        wake = self._wakes.setdefault(kinds, asyncio.Event())
        while not self._stopping:
            try:
                while not self._stopping and await self.deliver_due(kinds=kinds):
                    pass
            except Exception:  # noqa: BLE001 - keep the sender alive; the rows are retried
                log.exception("outbox delivery failed")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
            # arrives as the event is set, and the sender would then never stop
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle):
                    await wake.wait()
            wake.clear()

    def stop(self) -> None:
        """Finish the rows in hand, then leave `run_forever` (what is left stays in the outbox)."""
        self._stopping = True
        self.wake()

    async def deliver_due(self, *, limit: int = 50, kinds: tuple[str, ...] | None = None) -> int:
        """Deliver what is due now (of these kinds of row); returns how many rows were handled."""
        rows = await in_background(self.db.run, lambda s: self._lease(s, limit, kinds))
        if not rows:
            return 0
        cards_done: set[int] = set()
        for row in rows:
            try:
                if row.kind == "card":
                    failed = await self._card(row.payload, cards_done)
                else:
                    failed = await self._message(row.payload)
            except Exception as exc:  # noqa: BLE001 - e.g. the database went away: retry the row later
                log.warning("outbox row %s failed (attempt %s): %s", row.id, row.attempts, exc)
                await in_background(self.db.run, lambda s, r=row, e=exc: self._failed(s, r.id, e))
                continue
            await in_background(self.db.run, lambda s, r=row, f=failed: self._sent(s, r, f))
        return len(rows)

    def _lease(self, s: Session, limit: int, kinds: tuple[str, ...] | None = None) -> list[OutboxMessage]:
        now = self.clock()
        stmt = (
            select(OutboxMessage)
            .where(or_(OutboxMessage.status == "pending", OutboxMessage.status == "sending"),
                   OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id).limit(limit)
        )
        if kinds is not None:
            stmt = stmt.where(OutboxMessage.kind.in_(kinds))
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(s.exec(stmt).all())
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = "sending", row.attempts + 1, now + LEASE
        s.flush()
        return [OutboxMessage.model_validate(r.model_dump()) for r in rows]

    def _sent(self, s: Session, done: OutboxMessage, failed: list[tuple[dict, Exception]]) -> None:
        """Mark a row delivered; each target that failed gets a row of its own, retried with backoff,
        so a retry never repeats what already reached the other targets."""
        row = s.get(OutboxMessage, done.id)
        row.status, row.last_error = "sent", ""
        for target, exc in failed:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("outbox row %s: %s failed (attempt %s): %s", row.id, target, row.attempts, error)
            give_up = row.attempts >= MAX_ATTEMPTS
            s.add(OutboxMessage(
                kind=row.kind, payload={**row.payload, "_only": target}, attempts=row.attempts, last_error=error,
                status="failed" if give_up else "pending", created_at=row.created_at,
                next_attempt_at=self.clock() + timedelta(seconds=min(2 ** row.attempts, 300))))

    def _failed(self, s: Session, row_id: int, exc: Exception) -> None:
        row = s.get(OutboxMessage, row_id)
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
            log.error("outbox row %s gave up after %s attempts: %s", row_id, row.attempts, row.last_error)
        else:
            row.status = "pending"
            row.next_attempt_at = self.clock() + timedelta(seconds=min(2 ** row.attempts, 300))

    # -- what a row means -----------------------------------------------------------------------

    def _channels(self, s: Session, purpose: str, *, max_tier: int | None = None) -> list[Channel]:
        stmt = select(Channel).where(Channel.purpose == purpose).order_by(Channel.id)
        chans = [c for c in s.exec(stmt).all() if c.platform in self.notifiers]
        if max_tier is not None:
            chans = [c for c in chans if c.tier is not None and c.tier <= max_tier]
        return chans

    async def _each(self, targets: list, send) -> list[tuple[dict, Exception]]:
        """Send to every target, a few at a time; returns the targets that failed and why."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(target):
            async with gate:
                try:
                    await send(target)
                except Exception as exc:  # noqa: BLE001 - reported per target
                    return _target(target), exc
                return None

        return [r for r in await asyncio.gather(*(one(t) for t in targets)) if r]

    async def _message(self, payload: dict) -> list[tuple[dict, Exception]]:
        m, only = Message.model_validate(payload), payload.get("_only")

        def targets(s: Session):
            if m.audience is Audience.DM:
                return [s.get(Person, m.person_id)]
            purpose = {Audience.DISPATCH: "dispatch", Audience.MANAGERS: "managers", Audience.PARTNERS: "partners"}
            return self._channels(s, purpose[m.audience], max_tier=m.tier if m.audience is Audience.PARTNERS else None)

        found = await in_background(self.db.read, targets)
        if m.audience is Audience.DM:
            person = found[0]
            notifier = next((n for n in self.notifiers.values() if person and n.reaches(person)), None)
            return await self._each([person] if notifier else [], lambda p: notifier.direct(p, m))
        found = [c for c in found if not only or _target(c) == only]
        return await self._each(found, lambda c: self.notifiers[c.platform].post(c.external_id, m))

    async def _card(self, payload: dict, done: set[int]) -> list[tuple[dict, Exception]]:
        request_id, change, only = payload["request_id"], CardChange(payload["change"]), payload.get("_only")
        if change is CardChange.UPDATE and request_id in done and not only:
            return []  # already re-rendered from the newest state in this batch

        def load(s: Session):
            req = s.get(SurgeRequest, request_id)
            partner, dispatch = request_cards(s, request_id, self.home_timezone)
            posted = list(s.exec(select(PostedCard).where(PostedCard.request_id == request_id)).all())
            wanted = self._channels(s, "partners", max_tier=req.visible_tier) + self._channels(s, "dispatch")
            return partner, dispatch, posted, wanted

        partner, dispatch, posted, wanted = await in_background(self.db.read, load)
        have = {(p.platform, p.channel_id) for p in posted}
        updates = [c for c in posted if c.platform in self.notifiers and (not only or _target(c) == only)]
        # a first post, or a tier the request has widened to
        posts = [c for c in wanted if (c.platform, c.external_id) not in have and (not only or _target(c) == only)]

        async def update(card: PostedCard) -> None:
            copy = dispatch if card.purpose == "dispatch" else partner
            await self.notifiers[card.platform].update(card.channel_id, card.message_ref, copy)

        async def post(channel: Channel) -> None:
            copy = dispatch if channel.purpose == "dispatch" else partner
            ref = await self.notifiers[channel.platform].post(channel.external_id, copy)
            await in_background(self.db.run, lambda s: s.add(PostedCard(
                request_id=request_id, platform=channel.platform, channel_id=channel.external_id, message_ref=ref,
                purpose=channel.purpose, posted_at=self.clock())))

        failed = await self._each(updates, update) + await self._each(posts, post)
        if not only:
            done.add(request_id)
        return failed


def _target(where) -> dict:
    """A delivery target as a row can carry it: a channel (or posted card), or a person for a DM."""
    if isinstance(where, Person):
        return {"person": where.id}
    if isinstance(where, PostedCard):
        return {"platform": where.platform, "channel": where.channel_id}
    return {"platform": where.platform, "channel": where.external_id}

