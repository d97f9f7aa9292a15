"""Adaptive Card form submissions mapped onto the platform-neutral forms (`handlers.forms`).

The card validates first (required inputs, numbers, a money pattern); `handlers.forms` checks again,
because a client may not validate, and says what was wrong next to the input. Input ids are the
form field names; all this adds is turning the submitted JSON values into text.
"""
from __future__ import annotations

from handlers.forms import (
    Errors,
    FormField,
    reason_from_fields,
    reassign_from_fields,
    request_from_fields,
    signature_from_fields,
    units_from_fields,
)
from handlers.requests import PostRequest


def as_text(raw: object) -> str | None:
    """An input's JSON value as text: Input.Number gives `20.0` for 20."""
    if raw is None:
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return str(raw)


def fields_of(inputs: dict) -> dict[str, str | None]:
    """Every form field's submitted value (input ids are the field names)."""
    return {field: as_text(inputs.get(field)) for field in FormField}


def read_request_form(inputs: dict) -> tuple[PostRequest | None, Errors]:
    return request_from_fields(fields_of(inputs))


def read_units(inputs: dict) -> tuple[int | None, Errors]:
    return units_from_fields(fields_of(inputs))


def read_reason(inputs: dict) -> tuple[str | None, Errors]:
    return reason_from_fields(fields_of(inputs))


def read_signature(inputs: dict) -> tuple[str | None, Errors]:
    return signature_from_fields(fields_of(inputs))


def read_reassign(inputs: dict) -> tuple[str | None, Errors]:
    return reassign_from_fields(fields_of(inputs))
