"""Surge's Bolt listeners, one module per family, each with `register(app, deps)` (as bolt-python's
examples keep them). A listener acks, turns the payload into a `handlers` command, calls the core
through `deps`, and renders the reply; it decides nothing itself.

A new family is a module with `register(app, deps)` and one line in `FAMILIES`.
"""
from __future__ import annotations

from bot.slack.door import SlackApp
from bot.slack.listeners import actions, commands, events, home, views
from bot.slack.listeners.deps import Deps

FAMILIES = (
    commands,  # /surge …
    actions,  # button clicks
    views,  # form (modal) submissions
    events,  # the Messages tab, @mentions
    home,  # the App Home tab
)


def register_all(app: SlackApp, deps: Deps) -> None:
    for family in FAMILIES:
        family.register(app, deps)
