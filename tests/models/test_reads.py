"""Read-only units of work read beside a writer instead of queueing behind it, and change nothing."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from sqlmodel import select

from models.tables import SurgeRequest


@contextmanager
def long_write(db):
    """A unit of work renaming SR-1, held open (SQLite's write lock; PostgreSQL's row lock) until the
    block ends, then committed."""
    writing, release = threading.Event(), threading.Event()

    def write() -> None:
        with db.session() as s:
            s.get(SurgeRequest, 1).title = "Renamed mid-write"
            s.flush()
            writing.set()
            release.wait(10)

    writer = threading.Thread(target=write)
    writer.start()
    assert writing.wait(10)
    try:
        yield
    finally:
        release.set()
        writer.join(10)


def test_a_read_is_not_held_up_by_a_long_write_and_sees_only_committed_data(ready):
    db = ready.core.db
    with long_write(db):
        started = time.monotonic()
        seen = db.read(lambda s: s.exec(select(SurgeRequest.title).where(SurgeRequest.id == 1)).one())
        took = time.monotonic() - started
    assert seen == "DST patch, Main St office" and took < 2.0  # not the uncommitted title, and no wait
    assert db.read(lambda s: s.get(SurgeRequest, 1)).title == "Renamed mid-write"  # readable after the session


def test_a_read_only_unit_of_work_commits_nothing(ready):
    db = ready.core.db

    def sneaky(s) -> None:
        s.get(SurgeRequest, 1).title = "Should not stick"

    db.read(sneaky)
    assert db.read(lambda s: s.get(SurgeRequest, 1)).title == "DST patch, Main St office"


def test_looking_commands_answer_while_a_write_is_under_way(ready):
    """`list`, `status`, `help` … read beside a long write instead of waiting for it."""
    with long_write(ready.core.db):
        started = time.monotonic()
        listed, status = ready.ok("Tom Tech", "list"), ready.ok("Dana Dispatch", "status SR-1")
        took = time.monotonic() - started
    assert "DST patch, Main St office" in listed.text + str(listed.fields) and "SR-1" in status.title + status.text
    assert took < 2.0
