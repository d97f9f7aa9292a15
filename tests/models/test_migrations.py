"""The Alembic migrations build exactly the schema the tables declare, on each database."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import models.tables  # noqa: F401


def test_migrated_schema_matches_the_tables(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_upgrade_is_repeatable_and_creates_every_table(db):
    db.upgrade()  # already at head: nothing to do, no error
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in SQLModel.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


def test_the_database_refuses_oversubscription_itself(roster_db):
    """Even a write that bypasses the handlers cannot take more units than a request has."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with roster_db.session() as s:
            s.execute(text(
                "INSERT INTO surge_request (title, scope, skills, units, units_taken, units_verified, "
                "minutes_per_unit, pay_cents, bill_cents, deadline, customer, site, contact, town, "
                "approval_required, tier, visible_tier, tier_delay_minutes, status, status_reason, created_by_id, "
                "created_at, updated_at) VALUES ('x', '', '[]', 5, 6, 0, 30, 0, 0, '2030-01-01', '', '', '', '', "
                "false, 1, 1, 30, 'open', '', 1, '2030-01-01', '2030-01-01')"
            ))
