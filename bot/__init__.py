"""The edges: CLI, HTTP server, chat platforms, console and clock. The only place that imports
slack_bolt, slack_sdk, botbuilder or apscheduler."""
