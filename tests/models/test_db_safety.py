"""The database layer keeps private values out of errors and logs, and migrates once under a race."""
from __future__ import annotations

import logging
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

import models.tables  # noqa: F401 - every table on the metadata
from models.db import Database
from models.tables import Org
from tests.conftest import PG_URL, scratch_pg

CUSTOMER = "Acme Dental, Ann Lee 516-555-0101"


def _everything_logged(caplog) -> str:
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)


def test_a_constraint_violation_never_shows_the_customer_string(db, caplog):
    caplog.set_level(logging.DEBUG)
    db.run(lambda s: s.add(Org(name=CUSTOMER)))
    with pytest.raises(DBAPIError) as caught:
        db.run(lambda s: s.add(Org(name=CUSTOMER)))  # the name is unique
    logging.getLogger("surge.test").exception("the insert failed", exc_info=caught.value)
    assert CUSTOMER not in str(caught.value) and CUSTOMER not in str(caught.value.orig)
    assert CUSTOMER not in _everything_logged(caplog)


def test_a_value_too_long_never_shows_the_value(db, caplog):
    if db.is_sqlite:
        pytest.skip("SQLite does not enforce a column's length")
    caplog.set_level(logging.DEBUG)
    long_name = CUSTOMER * 10  # org.name holds 200 characters
    with pytest.raises(DBAPIError) as caught:
        db.run(lambda s: s.add(Org(name=long_name)))
    logging.getLogger("surge.test").exception("the insert failed", exc_info=caught.value)
    assert CUSTOMER not in str(caught.value) and CUSTOMER not in _everything_logged(caplog)


@pytest.fixture
def fresh_pg():
    """An empty PostgreSQL database of this test's own."""
    if not PG_URL:
        pytest.skip("set TEST_DATABASE_URL to run this on PostgreSQL")
    with scratch_pg("surge_fresh") as url:
        yield url


def test_three_processes_starting_at_once_migrate_once(fresh_pg):
    start, errors = threading.Barrier(3), []

    def serve_starts() -> None:
        db = Database(fresh_pg)
        try:
            start.wait(10)
            db.upgrade()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=serve_starts) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    db = Database(fresh_pg)
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    db.dispose()
