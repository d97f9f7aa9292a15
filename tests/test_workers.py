"""Acks first: a unit of work for the core starts only while no request waits for its ack, or once it
has waited `MAX_WAIT`; a request's own call into the core counts as its ack; a unit of work cancelled
while it waits takes no turn from the others. Driven on a real event loop and the real core threads."""
from __future__ import annotations

import asyncio
import contextvars
import threading

from bot import workers


async def spin(times: int = 20) -> None:
    """Let the loop run every callback that is ready, a few rounds over."""
    for _ in range(times):
        await asyncio.sleep(0)


def elsewhere(coro) -> asyncio.Task:
    """`coro` as another request's listener runs it: in a context of its own."""
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())


def test_a_unit_of_work_waits_for_a_pending_ack_then_runs():
    ran: list[str] = []

    async def scenario() -> None:
        with workers.arriving():  # a request on its way to its ack
            job = elsewhere(workers.in_core(ran.append, "answer"))
            await spin()
            assert not job.done() and ran == []  # held on the loop: the thread never got it
        await asyncio.wait_for(job, timeout=30)  # acked: it runs
        assert ran == ["answer"]

    asyncio.run(scenario())


def test_a_requests_own_call_into_the_core_is_its_ack():
    """A listener that calls the core before it acks (a form's submission) is not held by itself."""
    async def scenario() -> str:
        with workers.arriving():
            return await asyncio.wait_for(workers.in_core(str.upper, "mine"), timeout=30)

    assert asyncio.run(scenario()) == "MINE"


def test_units_of_work_wait_for_the_whole_burst_then_all_run_first_come_first():
    order: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        with lock:
            order.append(i)

    async def scenario() -> None:
        with workers.arriving(), workers.arriving():
            jobs = []
            for i in range(6):
                jobs.append(elsewhere(workers.in_core(work, i)))
                await spin(2)
            await spin()
            assert order == []
        await asyncio.wait_for(asyncio.gather(*jobs), timeout=30)

    asyncio.run(scenario())
    assert sorted(order) == list(range(6))
    assert order[0] == 0  # the first waiter starts first


def test_under_a_long_burst_a_unit_of_work_starts_after_max_wait(monkeypatch):
    monkeypatch.setattr(workers, "MAX_WAIT", 0.05)

    async def scenario() -> int:
        with workers.arriving():  # never acked while the work waits
            return await asyncio.wait_for(elsewhere(workers.in_core(len, "abc")), timeout=30)

    assert asyncio.run(scenario()) == 3


def test_a_cancelled_waiter_takes_no_turn():
    ran: list[str] = []

    async def scenario() -> None:
        with workers.arriving():
            doomed = elsewhere(workers.in_core(ran.append, "doomed"))
            kept = elsewhere(workers.in_core(ran.append, "kept"))
            await spin()
            doomed.cancel()
            await spin()
        await asyncio.wait_for(kept, timeout=30)
        turns = workers._turns_here()
        assert turns.running == 0 and not turns.waiting and not turns.unacked

    asyncio.run(scenario())
    assert ran == ["kept"]
