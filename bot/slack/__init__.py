"""Surge in Slack: the Bolt app, Block Kit rendering, and the Slack notifier."""
