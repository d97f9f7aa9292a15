"""Microsoft Teams: a botbuilder `TeamsActivityHandler` behind `POST /api/messages`, Adaptive Cards
(`cards.py`, pure), stored conversation references (`references.py`) and the outbox notifier.

Every botbuilder import lives in this folder, so a move to the Microsoft 365 Agents SDK touches
nothing else.
"""
