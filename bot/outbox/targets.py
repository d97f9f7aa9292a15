"""Where a row goes: the roster's channels for a purpose, a target's key and form in a row, and the
fan-out that sends to many targets a few at a time."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import TypeVar

from sqlalchemy import true
from sqlmodel import Session, select

from models.tables import Channel, ChannelPurpose, OutboxMessage, Person, PostedCard

T = TypeVar("T")
Failed = list[tuple[dict, Exception]]  # the targets a row could not reach, and why
Fan = Callable[[OutboxMessage, list, Callable[..., Awaitable[None]]], Awaitable[Failed]]  # a row's fan-out


def channels(s: Session, platforms: Collection[str], purpose: ChannelPurpose, *,
             max_tier: int | None = None) -> list[Channel]:
    """Active channels with this purpose on a platform Surge sends to (up to a tier, for partners)."""
    stmt = select(Channel).where(Channel.purpose == purpose, Channel.active == true()).order_by(Channel.id)
    chans = [c for c in s.exec(stmt).all() if c.platform in platforms]
    if max_tier is not None:
        chans = [c for c in chans if c.tier is not None and c.tier <= max_tier]
    return chans


async def fan_out(targets: Iterable[T], send: Callable[[T], Awaitable[None]], *, concurrency: int,
                  before: Callable[[], None]) -> Failed:
    """Send to every target, `concurrency` at a time; returns the targets that failed and why.
    `before` runs before each send and may raise to stop the fan-out (a lost lease is not a
    target's failure)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(where: T) -> tuple[dict, Exception] | None:
        async with gate:
            before()
            try:
                await send(where)
            except Exception as exc:  # noqa: BLE001 - reported per target
                return target(where), exc
            return None

    return [r for r in await asyncio.gather(*(one(t) for t in targets)) if r]


def origin(row: OutboxMessage) -> int:
    """The row first written for this message: retry rows carry its id, for markers and records."""
    return row.payload.get("_origin", row.id)


def tried_before(row: OutboxMessage) -> bool:
    """A row leased before (its lease ran out, or a target failed) may have reached a target unrecorded."""
    return row.attempts > 1 or "_origin" in row.payload


def key(where: Person | Channel) -> str:
    return f"person:{where.id}" if isinstance(where, Person) else f"{where.platform}:{where.external_id}"


def target(where: object) -> dict:
    """A delivery target as a row can carry it: a channel (or posted card), or a person for a DM."""
    if isinstance(where, Person):
        return {"person": where.id}
    if isinstance(where, PostedCard):
        return {"platform": where.platform, "channel": where.channel_id}
    assert isinstance(where, Channel)
    return {"platform": where.platform, "channel": where.external_id}
