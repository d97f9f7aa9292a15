"""Faults: `surge serve` killed with SIGKILL mid-claim, and the database going away under load."""
from __future__ import annotations

import asyncio
import threading

from sqlmodel import select

from handlers.core import NO_DATABASE
from models.db import Database
from models.tables import LIVE_CLAIM, AuditEntry, Claim, SurgeRequest
from tests.harness import ServerThread, wait_for
from tests.reliability.conftest import command, crew_roster, health, start_serve


def books_balance(db_url: str) -> int:
    """Every request's units equal its live claims and its audit log; returns the units taken."""
    db = Database(db_url)
    taken = 0
    with db.session() as s:
        for req in s.exec(select(SurgeRequest)).all():
            claims = s.exec(select(Claim).where(Claim.request_id == req.id)).all()
            assert req.units_taken == sum(c.units for c in claims if c.status in LIVE_CLAIM) <= req.units
            logged = s.exec(select(AuditEntry).where(AuditEntry.request_id == req.id,
                                                     AuditEntry.action == "claim.taken")).all()
            assert sum(a.units for a in logged) == req.units_taken  # no claim without its audit row
            taken += req.units_taken
    db.dispose()
    return taken


def units_taken(db: Database) -> int:
    return db.read(lambda s: sum(r.units_taken for r in s.exec(select(SurgeRequest)).all()))


def test_sigkill_mid_claim_leaves_no_half_done_claim(db_url, fake_slack, tmp_path):
    roster = crew_roster(tmp_path, 30)
    serve = start_serve(db_url, fake_slack, tmp_path, roster=roster)
    command(serve.url, "U0PAULA", 'sign "Paula Admin"')
    command(serve.url, "U0DANA", 'request "Kill test" units=500 deadline=2030-03-10 pay=35 town=Hicksville')
    for i in range(30):
        command(serve.url, f"U0CREW{i:03d}", "guidelines ack")
    stop = threading.Event()

    def hammer(i: int) -> None:
        while not stop.is_set():
            try:
                command(serve.url, f"U0CREW{i:03d}", "claim SR-1 1", timeout=5)
            except OSError:
                return  # the server died under us

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    # kill once claims are being committed, whatever the machine's speed: 30 clients are mid-claim
    # then, and 500 units leave plenty still to claim
    watch = Database(db_url)
    try:
        wait_for(lambda: units_taken(watch) >= 20, timeout=120, what="claims being committed")
    finally:
        watch.dispose()
    serve.kill()  # SIGKILL: no shutdown handlers, transactions cut wherever they were
    stop.set()
    for t in threads:
        t.join(30)
    before = books_balance(db_url)
    assert before > 0
    again = start_serve(db_url, fake_slack, tmp_path, roster=roster, name="restarted")
    try:
        status, answer = command(again.url, "U0CREW000", "claim SR-1 1")
        assert status == 200 and "You have" in answer["text"]
        assert books_balance(db_url) == before + 1
    finally:
        again.stop()


class Cuttable:
    """A TCP proxy in front of PostgreSQL that can be cut, as a database restart looks to a server."""

    def __init__(self, host: str, port: int):
        self.host, self.port, self.up = host, port, True
        self.server = ServerThread(lambda: None)  # only for its loop and port
        self.conns: set = set()

    def start(self) -> Cuttable:
        loop = self.server.loop
        threading.Thread(target=loop.run_forever, daemon=True).start()

        async def serve():
            return await asyncio.start_server(self._client, "127.0.0.1", self.server.port)

        self.listener = asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
        return self

    async def _client(self, reader, writer):
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return
        self.conns |= {writer, up_writer}

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        def close_all():
            self.up = False
            for w in list(self.conns):
                w.close()
            self.conns.clear()

        self.server.loop.call_soon_threadsafe(close_all)

    def restore(self) -> None:
        self.up = True


def test_database_down_gives_503_then_the_server_reconnects(pg_url, fake_slack, tmp_path):
    from sqlalchemy.engine import make_url

    real = make_url(pg_url)
    proxy = Cuttable(real.host or "127.0.0.1", real.port or 5432).start()
    via_proxy = real.set(host="127.0.0.1", port=proxy.server.port).render_as_string(hide_password=False)
    serve = start_serve(via_proxy, fake_slack, tmp_path)
    try:
        assert health(serve.url) == 200
        assert command(serve.url, "U0DANA", "list")[0] == 200
        proxy.cut()
        assert wait_for(lambda: health(serve.url) == 503, timeout=20, what="503 while the database is down")
        status, answer = command(serve.url, "U0DANA", "list")
        assert status == 200 and answer["text"] == NO_DATABASE  # a plain answer, never a hang or a 500
        proxy.restore()
        assert wait_for(lambda: health(serve.url) == 200, timeout=30, what="200 after the database is back")
        status, answer = command(serve.url, "U0DANA", 'request "After" units=3 deadline=2030-03-10 pay=35 town=Hicksville')
        assert status == 200 and "Posted" in answer["text"]
    finally:
        serve.stop()
