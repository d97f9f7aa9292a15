"""Read-only units of work read beside a writer instead of queueing behind it, and change nothing."""
from __future__ import annotations

import threading
import time

from sqlmodel import select

from models.tables import SurgeRequest


def test_a_read_is_not_held_up_by_a_long_write_and_sees_only_committed_data(ready):
    db = ready.core.db
    writing, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with db.session() as s:  # holds SQLite's write lock (PostgreSQL: the row) until released
            s.get(SurgeRequest, 1).title = "Renamed mid-write"
            s.flush()
            writing.set()
            release.wait(10)

    writer = threading.Thread(target=long_write)
    writer.start()
    assert writing.wait(10)
    started = time.monotonic()
    seen = db.read(lambda s: s.exec(select(SurgeRequest.title).where(SurgeRequest.id == 1)).one())
    took = time.monotonic() - started
    release.set()
    writer.join(10)
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
    db = ready.core.db
    writing, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with db.session() as s:
            s.get(SurgeRequest, 1).title = "Renamed mid-write"
            s.flush()
            writing.set()
            release.wait(10)

    writer = threading.Thread(target=long_write)
    writer.start()
    assert writing.wait(10)
    started = time.monotonic()
    listed, status = ready.ok("Tom Tech", "list"), ready.ok("Dana Dispatch", "status SR-1")
    took = time.monotonic() - started
    release.set()
    writer.join(10)
    assert "DST patch, Main St office" in listed.text + str(listed.fields) and "SR-1" in status.title + status.text
    assert took < 2.0
