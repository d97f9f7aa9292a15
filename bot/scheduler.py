"""The clock process: APScheduler runs `handlers.clock.run_due` every minute.

APScheduler's job stores are never shared between schedulers; correctness never depends on there
being one: every send is keyed in the database, so any number of schedulers (or `surge serve`
processes running it in-process) send each digest and reminder once. A missed minute is simply
caught up by the next run, which sends whatever is due and not yet sent. Each tick also trims
what is past keeping (`handlers.health.trim`: delivered outbox rows, old replay keys).
"""
from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.workers import in_background
from handlers.clock import run_due
from handlers.health import trim
from models.types import utcnow

log = logging.getLogger("surge.scheduler")


class Clock:
    def __init__(self, core, outbox, *, every_seconds: int = 60, clock=utcnow):
        self.core, self.outbox, self.clock = core, outbox, clock
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.scheduler.add_job(self.tick, IntervalTrigger(seconds=every_seconds), id="surge.tick",
                               max_instances=1, coalesce=True, misfire_grace_time=3600, next_run_time=None)
        self.every_seconds = every_seconds

    async def tick(self) -> list[str]:
        now = self.clock()
        sent = await in_background(run_due, self.core.db, now, home_timezone=self.core.home_timezone)
        if sent:
            log.info("clock sent %d: %s", len(sent), ", ".join(sent[:10]))
            self.outbox.wake()
        await in_background(trim, self.core.db, now)
        return sent

    def start(self) -> None:
        """Start on the running event loop, with a first tick at once (a catch-up after downtime)."""
        self.scheduler.start()
        self.scheduler.modify_job("surge.tick", next_run_time=self.clock())

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
