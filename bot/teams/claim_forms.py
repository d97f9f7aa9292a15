"""The reassign form as an Adaptive Card (pure, no I/O), built from `cards`' form pieces: who takes the
units (named as in the text command) and, optionally, how many."""
from __future__ import annotations

from bot.teams.cards import _buttons, _head, _number, _text
from bot.teams.ids import CardState
from handlers.forms import FormField
from handlers.types import Form


def reassign_form(state: CardState, values: dict, errors: dict[str, str] | None = None) -> list[dict]:
    errors = errors or {}
    return [
        *_head("Reassign a claim", state.about(), errors),
        *_text(FormField.TO, "Give it to", values, errors, required=True, placeholder="A name, like Tom Tech or Tom",
               message="Name who should take the units."),
        *_number(FormField.UNITS, "How many units? (all if empty)", values, errors),
        _buttons(state.model_copy(update={"form": Form.REASSIGN}), "Reassign"),
    ]
