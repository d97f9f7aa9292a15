"""Messages: a DM to one person, or a notice to every channel of a purpose (partners up to a tier).

Each target reached is recorded as an `OutboxDelivery` at once, so a row taken up again skips it;
a row tried before asks the notifier to look for an earlier post first (`check`).
"""
from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, select

from bot.notifier import Marker, Notifier
from bot.outbox.targets import Failed, Fan, channels, key, origin, target, tried_before
from bot.workers import in_background
from handlers.types import Audience, Message
from models.db import Database
from models.tables import Channel, ChannelPurpose, OutboxDelivery, OutboxMessage, Person

PURPOSE = {Audience.DISPATCH: ChannelPurpose.DISPATCH, Audience.MANAGERS: ChannelPurpose.MANAGERS,
           Audience.PARTNERS: ChannelPurpose.PARTNERS}


class Messages:
    def __init__(self, db: Database, notifiers: Mapping[str, Notifier], fan: Fan, *, clock):
        self.db, self.notifiers, self.fan, self.clock = db, notifiers, fan, clock

    def _targets(self, s: Session, m: Message, origin_id: int) -> tuple[list, set[str]]:
        done = set(s.exec(select(OutboxDelivery.target).where(OutboxDelivery.origin_id == origin_id)).all())
        if m.audience is Audience.DM:
            return [s.get(Person, m.person_id)], done
        tier = m.tier if m.audience is Audience.PARTNERS else None
        return channels(s, self.notifiers, PURPOSE[m.audience], max_tier=tier), done

    async def deliver(self, row: OutboxMessage) -> Failed:
        m, only, first = Message.model_validate(row.payload), row.payload.get("_only"), origin(row)
        marker, check = Marker(outbox_id=first, request_id=m.request_id), tried_before(row)
        found, done = await in_background(self.db.read, lambda s: self._targets(s, m, first))
        if m.audience is Audience.DM:
            person = found[0]
            notifier = next((n for n in self.notifiers.values() if person and n.reaches(person)), None)
            if not notifier or not person.active or key(person) in done:
                return []

            async def dm(p: Person) -> None:
                ref = await notifier.direct(p, m, marker=marker, check=check)
                await self._record(first, key(p), ref)

            return await self.fan(row, [person], dm)

        async def post(c: Channel) -> None:
            ref = await self.notifiers[c.platform].post(c.external_id, m, marker=marker, check=check)
            await self._record(first, key(c), ref)

        return await self.fan(row, [c for c in found if (not only or target(c) == only) and key(c) not in done], post)

    async def _record(self, origin_id: int, where: str, ref: str | None) -> None:
        def work(s: Session) -> None:
            s.add(OutboxDelivery(origin_id=origin_id, target=where, ref=ref or "", at=self.clock()))

        await in_background(self.db.run, work)
