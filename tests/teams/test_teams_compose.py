"""Surge composed in order: the Teams notifier, the outbox that sends through it, then the endpoint that
wakes that outbox, each built from the ones before it (nothing set on an object after it was built)."""
from __future__ import annotations

from bot.config import Settings
from bot.main import compose


def test_teams_is_built_after_the_outbox_it_wakes_and_shares_one_adapter(db_url):
    stack = compose(Settings(_env_file=None, database_url=db_url))
    try:
        teams = stack.teams
        assert teams is not None and teams.emulator  # no MICROSOFT_APP_ID: emulator mode
        assert stack.outbox.notifiers["teams"] is teams.notifier and teams.notifier in stack.notifiers
        assert teams.bot.wake == stack.outbox.wake  # a turn wakes the outbox the notifier belongs to
        assert teams.adapter is teams.notifier.adapter  # turns and proactive sends on one adapter
    finally:
        stack.core.db.dispose()
