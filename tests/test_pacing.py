"""The one pacer both notifiers use: counted on a clock the test moves, not on the wall clock."""
from __future__ import annotations

import asyncio

from bot.pacing import Pacer
from bot.slack.notifier import SlackNotifier
from bot.teams.notifier import TeamsNotifier


class Clock:
    """A clock that moves only when the pacer sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)  # let the others run, as a real sleep would


def pacer(interval: float = 1.0) -> tuple[Pacer, Clock]:
    clock = Clock()
    return Pacer(interval, clock=clock, sleep=clock.sleep), clock


def test_the_first_send_to_a_conversation_goes_at_once_and_the_next_waits_one_interval():
    pace, clock = pacer(1.0)

    async def main():
        await pace.wait("C1")
        await pace.wait("C1")
        await pace.wait("C1")

    asyncio.run(main())
    assert clock.sleeps == [1.0, 1.0]
    assert clock.now == 102.0


def test_sends_to_one_conversation_go_in_the_order_they_asked():
    pace, clock = pacer(1.0)
    order: list[int] = []

    async def send(n: int) -> None:
        await pace.wait("C1")
        order.append(n)

    async def main():
        await asyncio.gather(*(send(n) for n in range(6)))

    asyncio.run(main())
    assert order == list(range(6))
    assert len(clock.sleeps) == 5  # one send at once, five after a pause each


def test_conversations_do_not_wait_for_each_other():
    pace, clock = pacer(1.0)

    async def main():
        await asyncio.gather(*(pace.wait(f"C{n}") for n in range(20)))

    asyncio.run(main())
    assert clock.sleeps == []


def test_time_already_passed_counts_towards_the_pause():
    pace, clock = pacer(1.0)

    async def main():
        await pace.wait("C1")
        clock.now += 0.75  # the send itself took a while
        await pace.wait("C1")
        clock.now += 5  # long after
        await pace.wait("C1")

    asyncio.run(main())
    assert clock.sleeps == [0.25]


def test_a_long_running_pacer_forgets_conversations_it_no_longer_waits_on():
    pace, clock = pacer(0.5)

    async def main():
        for n in range(3000):
            await pace.wait(f"C{n}")
            clock.now += 1

    asyncio.run(main())
    assert len(pace._next) <= 1024 and len(pace._locks) <= 1024


def test_both_notifiers_pace_with_it_at_their_platforms_rate():
    slack = SlackNotifier(client=None)  # type: ignore[arg-type]  # pacing needs no client
    teams = TeamsNotifier(adapter=None, db=None)  # type: ignore[arg-type]
    assert isinstance(slack.pacer, Pacer) and isinstance(teams.pacer, Pacer)
    assert slack.interval == 1.0 and round(teams.interval, 3) == round(1 / 7, 3)
    slack.interval = teams.interval = 0.01  # what tests against the fakes do
    assert slack.pacer.interval == teams.pacer.interval == 0.01
