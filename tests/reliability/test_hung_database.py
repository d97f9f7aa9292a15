"""A database that stops answering never hangs Surge: /healthz says 503 within 2 s, and a command
gets a plain "can't reach its database" answer rather than a hang or "Something went wrong"."""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.server import build_server
from handlers.core import NO_DATABASE, Surge
from handlers.types import Identity
from models.db import Database
from models.tables import OutboxMessage
from tests.harness import ServerThread


class BlackHole:
    """A TCP listener that accepts connections and never says a word, as a hung server looks."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def get(url: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            status, body = resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        status, body = err.code, json.loads(err.read() or b"{}")
    return status, body, time.monotonic() - started


@pytest.fixture
def black_hole():
    hole = BlackHole()
    yield hole
    hole.close()


@pytest.fixture
def hung_core(black_hole):
    db = Database(f"postgresql+psycopg://surge@127.0.0.1:{black_hole.port}/surge")
    yield Surge(db, home_timezone="America/New_York")
    db.dispose()


def serve(core: Surge) -> ServerThread:
    return ServerThread(lambda: build_server(core)).start()


def test_healthz_answers_503_promptly_when_the_database_never_answers(hung_core):
    server = serve(hung_core)
    try:
        for _ in range(3):  # again while the first probe is still stuck: no pile-up, still prompt
            status, body, took = get(server.url + "/healthz")
            assert status == 503 and body["status"] == "unavailable" and took < 2.5, (status, body, took)
    finally:
        server.stop()


def test_a_command_while_the_database_never_answers_says_so(hung_core):
    started = time.monotonic()
    reply = hung_core.handle_text(Identity(platform="console", user_id="dana dispatch"), "list")
    assert reply.text == NO_DATABASE and not reply.ok
    assert time.monotonic() - started < 15  # bounded by the connect timeout, never a hang


def test_healthz_answers_503_within_2s_while_the_outbox_is_locked_and_counts_failures(pg_url):
    core = Surge(Database(pg_url), home_timezone="America/New_York")
    with core.db.session() as s:
        for status in ("failed", "failed", "sent"):
            s.add(OutboxMessage(kind="message", payload={}, status=status, last_error="gave up"))
    server = serve(core)
    locker = create_engine(make_url(pg_url))
    try:
        assert get(server.url + "/healthz")[:2] == (200, {"status": "ok", "outbox_failed": 2})
        with locker.connect() as conn:
            conn.execute(text("LOCK TABLE outbox_message IN ACCESS EXCLUSIVE MODE"))  # held until rollback
            status, body, took = get(server.url + "/healthz")
            assert status == 503 and took < 2.5, (status, body, took)
            conn.rollback()
        assert get(server.url + "/healthz")[:2] == (200, {"status": "ok", "outbox_failed": 2})
    finally:
        server.stop()
        locker.dispose()
        core.db.dispose()


def test_healthz_counts_outbox_rows_that_failed_for_good(db):
    core = Surge(db, home_timezone="America/New_York")
    with db.session() as s:
        s.add(OutboxMessage(kind="message", payload={}, status="failed", last_error="gave up"))
    server = serve(core)
    try:
        assert get(server.url + "/healthz")[:2] == (200, {"status": "ok", "outbox_failed": 1})
    finally:
        server.stop()
