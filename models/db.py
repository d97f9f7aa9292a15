"""The engine and units of work, on SQLite or PostgreSQL.

SQLite: WAL, a busy timeout and `BEGIN IMMEDIATE`, so writers queue instead of failing, in one or
many processes; pages are read through a memory map. PostgreSQL: row locks (`SELECT … FOR UPDATE`) on the request being changed, and a
pool that checks connections before use (a restarted server is reconnected).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, create_engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
POOL_SIZE, POOL_OVERFLOW = 10, 20
SQLITE_MMAP_BYTES = 1 << 30  # address space, not memory: pages are the OS page cache's, shared


_mode = threading.local()  # `read_only` while this thread runs a read-only unit of work


class Retry(Exception):
    """Raised inside a unit of work that acted on a read a concurrent writer has since made stale
    (e.g. a conditional write matched no row): it is rolled back and run again from the start."""


def _is_retryable(exc: DBAPIError) -> bool:
    """Lock timeouts, deadlocks, serialization failures and dropped connections."""
    code = getattr(exc.orig, "sqlstate", None)
    if code in {"40001", "40P01", "55P03"}:
        return True
    msg = str(exc.orig).lower()
    return "database is locked" in msg or isinstance(exc, OperationalError) and exc.connection_invalidated


class Database:
    """Owns one engine. `session()` is one unit of work: commit on success, roll back on error."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url, echo=echo)
        # SQLite has one writer at a time: this process's units of work queue here, in order, rather
        # than spinning in SQLite's busy handler (other processes still meet the busy timeout).
        self._writer = threading.RLock() if self.is_sqlite else None
        # never more callers waiting on the pool than it holds: the rest queue here without a timeout
        self._slots = threading.BoundedSemaphore(POOL_SIZE + POOL_OVERFLOW)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._slots, self._writer or nullcontext(), Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work. On SQLite it begins DEFERRED and reads beside the writer (WAL)
        instead of queueing for the write lock; on PostgreSQL it is a plain transaction. Nothing is
        committed: closing the session ends the transaction, and what it loaded stays readable."""
        with self._slots, Session(self.engine, expire_on_commit=False) as session:
            _mode.read_only = True
            try:
                yield session
            finally:
                _mode.read_only = False

    def read(self, work, *, attempts: int = 3):
        """`work(session)` in a read-only unit of work (again if the connection dropped)."""
        for attempt in range(1, attempts + 1):
            try:
                with self.reading() as session:
                    return work(session)
            except DBAPIError as exc:
                if attempt == attempts or not _is_retryable(exc):
                    raise
                time.sleep(0.02 * 2**attempt)
        raise AssertionError("unreachable")

    def run(self, work, *, attempts: int = 5):
        """Run `work(session)` in a unit of work, again on a lock timeout, a deadlock or `Retry`."""
        for attempt in range(1, attempts + 1):
            try:
                with self.session() as session:
                    return work(session)
            except Retry as exc:
                if attempt == attempts:
                    raise
                log.debug("unit of work run again: %s (attempt %d)", exc, attempt)
            except DBAPIError as exc:
                if attempt == attempts or not _is_retryable(exc):
                    raise
                log.warning("unit of work retried after %s (attempt %d)", exc.orig, attempt)
                time.sleep(0.02 * 2**attempt)
        raise AssertionError("unreachable")

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not answering"
            return False

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (Alembic)."""
        from alembic import command

        command.upgrade(alembic_config(self), "head")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(db: Database):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    cfg.attributes["engine"] = db.engine
    return cfg


def _make_engine(url: str, *, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
                # Read pages through a shared memory map rather than a read() per page into each
                # connection's own 2 MB cache: the digest's aggregates visit far more pages than
                # that cache holds, and their time then grew faster than the data.
                cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # One writer at a time, decided at BEGIN: no lock upgrades that fail halfway. A read-only
            # unit of work (Database.reading) begins DEFERRED: WAL lets it read beside the writer.
            conn.exec_driver_sql("BEGIN" if getattr(_mode, "read_only", False) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
