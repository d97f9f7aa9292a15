"""One pacer for every notifier: at most one send per `interval` seconds to each conversation.

Slack allows about one message a second per channel, Teams about seven a second per conversation
for a bot; each notifier holds a `Pacer` with its platform's interval. Sends to one conversation go
out in the order they asked (an `asyncio.Lock` wakes its waiters first come, first served); sends to
different conversations never wait for each other.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Paced:
    """A notifier that paces its sends with a `Pacer`: its `interval` is the pacer's."""

    pacer: Pacer

    @property
    def interval(self) -> float:
        return self.pacer.interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        self.pacer.interval = seconds


class Pacer:
    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep):
        self.interval = interval  # seconds between two sends to one conversation
        self._clock, self._sleep = clock, sleep
        self._next: dict[str, float] = {}  # conversation -> earliest time of its next send
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, key: str) -> None:
        """Return when a send to `key` may go out now (and count it as sent)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            delay = self._next.get(key, 0.0) - self._clock()
            if delay > 0:
                await self._sleep(delay)
            self._next[key] = self._clock() + self.interval
            self._forget_idle(key)

    def _forget_idle(self, key: str) -> None:
        """Drop the bookkeeping of conversations whose pause is over and that nobody waits on, so a
        long-running sender does not keep one entry per conversation it ever spoke in."""
        if len(self._next) < 1024:
            return
        now = self._clock()
        for other in [k for k, t in self._next.items() if t <= now and k != key]:
            lock = self._locks.get(other)
            if lock is None or not lock.locked():
                self._next.pop(other, None)
                self._locks.pop(other, None)
