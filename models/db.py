"""The engine and units of work, on SQLite or PostgreSQL.

SQLite: WAL, a busy timeout and `BEGIN IMMEDIATE`, so writers queue instead of failing, in one or
many processes; pages are read through a memory map. PostgreSQL: row locks (`SELECT … FOR UPDATE`)
on the request being changed, and a pool that checks connections before use (a restarted server is
reconnected).

A database that stops answering never hangs Surge: connecting gives up after `CONNECT_TIMEOUT`,
TCP keepalives find a dead peer, every statement is cancelled by the server after
`STATEMENT_TIMEOUT`, and waiting for a pooled connection ends after `POOL_TIMEOUT`; all of them
raise `OperationalError` / `TimeoutError`, which the core answers with "can't reach its database".
Errors never carry statement parameters (`hide_parameters`): they may hold a customer's name.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Select, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, create_engine

log = logging.getLogger(__name__)
T = TypeVar("T")  # what a unit of work returns

MIGRATIONS = Path(__file__).parent / "migrations"
POOL_SIZE, POOL_OVERFLOW = 10, 20
CONNECT_TIMEOUT = 3  # seconds to open a connection (PostgreSQL)
STATEMENT_TIMEOUT_MS = 10_000  # the server cancels a statement running (or waiting on a lock) longer
QUICK_TIMEOUT_MS = 1_500  # for `quick` reads: /healthz answers within 2 s
POOL_TIMEOUT = 5  # seconds to wait for a pooled connection
SQLITE_BUSY_SECONDS = 30  # a writer waits this long for another process's write lock
MIGRATION_LOCK = 0x5375726765  # pg_advisory_lock key: one `surge` process migrates at a time
SQLITE_MMAP_BYTES = 1 << 30  # address space, not memory: pages are the OS page cache's, shared


_mode = threading.local()  # `read_only` while this thread runs a read-only unit of work
WROTE = "surge.wrote"  # in a connection's `info`: whether its transaction may have written anything


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


def unreachable(exc: BaseException) -> bool:
    """Whether an error means the database didn't answer: can't connect, connection lost, a timeout
    (connect, pool, statement, lock), or SQLite busy. Not a bug in a statement (a missing table)."""
    if isinstance(exc, (PoolTimeout, TimeoutError)):
        return True
    if not isinstance(exc, OperationalError):
        return False
    if isinstance(exc.orig, sqlite3.Error):
        msg = str(exc.orig).lower()
        return any(word in msg for word in ("locked", "busy", "unable to open", "disk i/o"))
    return True  # PostgreSQL's OperationalError: connection, timeout and cancellation failures


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
    def session(self, *, refusals: tuple[type[BaseException], ...] = ()) -> Iterator[Session]:
        """One unit of work: a COMMIT on success, a ROLLBACK on any error; a refusal (one of `refusals`) known
        to have written nothing keeps the connection's prepared statements (see `_end_refused`)."""
        with self._slots, self._writer or nullcontext(), Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except refusals:
                _end_refused(session)
                raise
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work. On SQLite it begins DEFERRED and reads beside the writer (WAL)
        instead of queueing for the write lock; on PostgreSQL it is a plain transaction. Nothing is
        committed: closing the session ends the transaction, and what it loaded stays readable. On PostgreSQL
        a unit that wrote nothing ends as a clean refusal does, keeping the prepared statements (`_end_clean`)."""
        with self._slots, Session(self.engine, expire_on_commit=False) as session:
            _mode.read_only = True
            try:
                yield session
                _end_clean(session)
            finally:
                _mode.read_only = False

    def read(self, work: Callable[[Session], T], *, attempts: int = 3) -> T:
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

    def run(self, work: Callable[[Session], T], *, attempts: int = 5,
            refusals: tuple[type[BaseException], ...] = ()) -> T:
        """Run `work(session)` in a unit of work, again on a lock timeout, a deadlock or `Retry`; a refusal
        (one of `refusals`) that wrote nothing keeps the connection's prepared statements (`session`)."""
        for attempt in range(1, attempts + 1):
            try:
                with self.session(refusals=refusals) as session:
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

    def quick(self, work: Callable[[Session], T]) -> T:
        """`work(session)` read-only, once, cancelled by PostgreSQL after `QUICK_TIMEOUT_MS` (e.g. behind
        a lock): for a health check, which must answer promptly rather than wait."""
        with self.reading() as session:
            if not self.is_sqlite:
                session.execute(text(f"SET LOCAL statement_timeout = {QUICK_TIMEOUT_MS}"))
            return work(session)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (Alembic). On PostgreSQL, under an advisory lock:
        several `surge` processes starting at once migrate one after the other (the later ones find
        nothing to do), on one connection without a statement timeout (an index may take a while)."""
        from alembic import command

        cfg = alembic_config(self)
        if self.is_sqlite:
            command.upgrade(cfg, "head")
            return
        with self.engine.connect() as conn:
            conn.execute(text("SET statement_timeout = 0"))
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                conn.execute(text("RESET statement_timeout"))
                conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()


def _end_refused(session: Session) -> None:
    """End a refused unit of work with a ROLLBACK. On PostgreSQL, if it is known to have written nothing (every
    statement of its transaction a SELECT or an INSERT/UPDATE/DELETE that matched no row, none failed, no ORM
    object pending), the ROLLBACK is sent on the libpq connection (psycopg's documented `pgconn`) rather than
    through psycopg's `rollback()`, which would also deallocate every prepared statement of the connection
    (psycopg does so in case the transaction dropped or altered what they refer to): the units of work that
    follow on it would parse and plan every statement again. psycopg then finds the connection idle.
    A COMMIT of the empty transaction would keep them too, but it flushes the WAL when a row lock was taken."""
    _end_clean(session)
    session.rollback()


def _end_clean(session: Session) -> None:
    """On PostgreSQL, send a ROLLBACK on the libpq connection if the session's transaction is known to have
    written nothing (see `_end_refused`), so psycopg finds the connection idle and keeps its prepared
    statements; otherwise (SQLite, a write, any doubt) do nothing: the session's own rollback follows."""
    with suppress(Exception):  # any doubt (a transaction already undone, a connection lost): the rollback after
        conn = session.connection() if session.in_transaction() else None
        pgconn = getattr(conn.connection.dbapi_connection, "pgconn", None) if conn is not None else None
        pending = session.new or session.dirty or session.deleted
        if conn is not None and pgconn is not None and not conn.info.get(WROTE, True) and not pending:
            pgconn.exec_(b"ROLLBACK")


def _track_writes(engine: Engine) -> None:
    """Keep `WROTE` in each connection's `info` for its current transaction (PostgreSQL): False at BEGIN,
    True at the first statement that may have written (anything but a compiled SELECT, or an INSERT/UPDATE/
    DELETE that matched a row: psycopg holds the whole result, so its rowcount is exact) or that failed."""

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.info[WROTE] = False

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Connection, cursor, _statement, _params, context, _executemany) -> None:
        if conn.info.get(WROTE, True):
            return
        compiled = getattr(context, "compiled", None)
        if compiled is None or getattr(context, "is_text", True):
            conn.info[WROTE] = True
        elif context.isinsert or context.isupdate or context.isdelete:
            conn.info[WROTE] = cursor.rowcount != 0
        elif not isinstance(compiled.statement, Select):
            conn.info[WROTE] = True


def alembic_config(db: Database):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    cfg.attributes["engine"] = db.engine
    return cfg


def _make_engine(url: str, *, echo: bool) -> Engine:
    engine = _sqlite_engine(url, echo=echo) if url.startswith("sqlite") else _pg_engine(url, echo=echo)
    if not url.startswith("sqlite"):  # SQLite keeps its statements across a rollback
        _track_writes(engine)

    @event.listens_for(engine, "handle_error")
    def _no_values_in_errors(ctx) -> None:
        """PostgreSQL's DETAIL quotes the values behind a violated constraint ("Key (name)=(Acme
        Dental) already exists"): drop it, as `hide_parameters` drops the statement's parameters."""
        diag = getattr(ctx.original_exception, "diag", None)
        detail = getattr(diag, "message_detail", None)
        if diag is None or not detail:
            return
        ctx.original_exception.args = (diag.message_primary or "",)
        wrapped = ctx.sqlalchemy_exception
        if wrapped is not None and wrapped.args:
            wrapped.args = (str(wrapped.args[0]).replace(f"\nDETAIL:  {detail}", ""), *wrapped.args[1:])

    return engine


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    engine = create_engine(
        url, echo=echo, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
        pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_timeout=POOL_TIMEOUT, hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
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


def _pg_engine(url: str, *, echo: bool) -> Engine:
    return create_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_timeout=POOL_TIMEOUT,
        hide_parameters=True,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT,
            # a peer that vanished (no FIN: a dead host, a cut network) is noticed in about a minute
            "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
            "tcp_user_timeout": 30_000,  # ms: unacknowledged writes give up too
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        },
    )
