"""Slack modal submissions mapped onto the platform-neutral forms (`handlers.forms`): a modal's
`state.values` becomes field → text; the errors come back keyed by block id, as Slack shows them."""
from __future__ import annotations

from handlers.forms import (
    Errors,
    FormField,
    quoted,
    request_from_fields,
    signature_from_fields,
)
from handlers.requests import PostRequest

__all__ = ["fields_of", "quoted", "read_request_form", "read_signature", "value_of"]


def value_of(state: dict, block: str) -> str | None:
    """The submitted value of a block's single input, whatever its element type."""
    element = (state.get(block) or {}).get("value") or {}
    for key in ("value", "selected_date", "selected_time"):
        if element.get(key):
            return str(element[key]).strip()
    options = element.get("selected_options")
    if options:
        return ",".join(o["value"] for o in options)
    return None


def fields_of(state: dict) -> dict[str, str | None]:
    """Every form field's submitted value (block ids are the field names)."""
    return {field: value_of(state, field) for field in FormField}


def read_request_form(state: dict) -> tuple[PostRequest | None, Errors]:
    """The request a modal describes, or the errors to show on its blocks."""
    return request_from_fields(fields_of(state))


def read_signature(state: dict) -> tuple[str | None, Errors]:
    """The full name typed in the sign modal with "I agree" ticked, or the errors to show."""
    return signature_from_fields(fields_of(state))
