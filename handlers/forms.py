"""The forms every chat platform shows (a request, a signature, one more word for a button's command),
read the same way everywhere.

An adapter only maps its payload (a Slack modal's state, an Adaptive Card's inputs) onto `FormField`
names and plain strings; the checks and the error beside each field are here, once.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import ValidationError

from handlers.errors import UsageError
from handlers.grammar import Kind, check_year, clean, convert
from handlers.requests import MAX_TIER, PostRequest, request_problems


class FormField(StrEnum):
    """A form's field names: Slack block ids and Adaptive Card input ids alike."""

    TITLE = "title"
    UNITS = "units"
    DEADLINE = "deadline"
    DEADLINE_TIME = "deadline_time"
    MINUTES = "minutes"
    PAY = "pay"
    BILL = "bill"
    SKILLS = "skills"
    SCOPE = "scope"
    CUSTOMER = "customer"
    SITE = "site"
    TOWN = "town"
    CONTACT = "contact"
    APPROVAL = "approval"
    TIER = "tier"
    NAME = "name"
    AGREE = "agree"
    WHY = "why"
    TO = "to"


Values = Mapping[str, str | None]  # field name → what was entered (None or "" for nothing)
Errors = dict[FormField, str]  # field → what is wrong with it, shown beside the field

# field → (field of PostRequest, kind, max length)
REQUEST_FIELDS: dict[FormField, tuple[str, Kind, int]] = {
    FormField.TITLE: ("title", Kind.TEXT, 150),
    FormField.UNITS: ("units", Kind.UNITS, 0),
    FormField.MINUTES: ("minutes", Kind.INT, 0),
    FormField.PAY: ("pay", Kind.MONEY, 0),
    FormField.BILL: ("bill", Kind.MONEY, 0),
    FormField.SKILLS: ("skills", Kind.LIST, 0),
    FormField.SCOPE: ("scope", Kind.TEXT, 2000),
    FormField.CUSTOMER: ("customer", Kind.TEXT, 200),
    FormField.SITE: ("site", Kind.TEXT, 300),
    FormField.TOWN: ("town", Kind.TEXT, 120),
    FormField.CONTACT: ("contact", Kind.TEXT, 300),
    FormField.TIER: ("tier", Kind.INT, 0),
}
AGREED = "agree"  # the value of the ticked "I agree" box
MAX_REASON = 1000


def entered(values: Values, field: FormField) -> str:
    """What was entered in a field, cleaned (see `grammar.clean`) and stripped; "" for nothing.
    Raises `UsageError` for text that isn't text (a lone surrogate)."""
    return clean(values.get(field) or "").strip()


def _entered(values: Values, field: FormField, errors: Errors) -> str:
    """`entered`, with a refusal noted beside the field instead of raised."""
    try:
        return entered(values, field)
    except UsageError as exc:
        errors[field] = exc.message
        return ""


def request_from_fields(values: Values) -> tuple[PostRequest | None, Errors]:
    """The request a form describes, or the errors to show beside its fields."""
    fields, errors = request_values(values)
    if errors:
        return None, errors
    try:
        cmd = PostRequest(**fields)
    except ValidationError as exc:  # every field was checked above; this is the model's last word
        return None, {FormField.TITLE: exc.errors()[0]["msg"].removeprefix("Value error, ")}
    for name, why in request_problems(cmd):  # the form has no loss box: a loss is posted by text
        why = why.replace("add loss=ok to post it anyway", "post it by text with loss=ok")
        errors.setdefault(FormField(name), why)
    return (None, errors) if errors else (cmd, {})


def request_values(values: Values) -> tuple[dict, Errors]:
    """A request form's fields, each read as the grammar reads it (PostRequest's field names), and the
    errors beside the fields that could not be read or are missing."""
    fields: dict = {}
    errors: Errors = {}
    for key, (name, kind, max_len) in REQUEST_FIELDS.items():
        raw = _entered(values, key, errors)
        if not raw:
            continue
        try:
            fields[name] = convert(kind, raw, name, max_len=max_len or 200)
        except UsageError as exc:
            errors[key] = exc.message
    day, hour = _entered(values, FormField.DEADLINE, errors), _entered(values, FormField.DEADLINE_TIME, errors)
    if day:
        try:
            fields["deadline"] = check_year(datetime.fromisoformat(f"{day[:10]}T{(hour or '17:00')[:5]}"), "deadline")
        except ValueError:
            errors[FormField.DEADLINE] = "Pick a date and a time."
        except UsageError as exc:
            errors[FormField.DEADLINE] = exc.message
    elif FormField.DEADLINE not in errors:
        errors[FormField.DEADLINE] = "Pick the deadline."
    fields["approval"] = _entered(values, FormField.APPROVAL, errors).lower() in ("yes", "true")
    if "title" not in fields and FormField.TITLE not in errors:
        errors[FormField.TITLE] = "Give the request a title."
    if "units" not in fields and FormField.UNITS not in errors:
        errors[FormField.UNITS] = "How many units of work?"
    if fields.get("tier", 1) > MAX_TIER:
        errors[FormField.TIER] = f"Tier must be between 1 and {MAX_TIER}."
    return fields, errors


def signature_from_fields(values: Values) -> tuple[str | None, Errors]:
    """The typed full name of a sign form whose "I agree" box is ticked, or what is missing."""
    errors: Errors = {}
    name = _entered(values, FormField.NAME, errors)
    if not name and FormField.NAME not in errors:
        errors[FormField.NAME] = "Type your full name to sign."
    if (values.get(FormField.AGREE) or "").strip() != AGREED:
        errors[FormField.AGREE] = "Tick “I agree” to sign."
    return (None, errors) if errors else (name, {})


def units_from_fields(values: Values) -> tuple[int | None, Errors]:
    """How many units a claim-some form asks for."""
    errors: Errors = {}
    raw = _entered(values, FormField.UNITS, errors)
    if errors:
        return None, errors
    try:
        return convert(Kind.UNITS, raw, "units"), {}
    except UsageError as exc:
        return None, {FormField.UNITS: exc.message if raw else "How many units?"}


def reason_from_fields(values: Values) -> tuple[str | None, Errors]:
    """Why work is rejected or sent back (the tech reads it)."""
    errors: Errors = {}
    why = _entered(values, FormField.WHY, errors)
    if errors:
        return None, errors
    if not why:
        return None, {FormField.WHY: "Say why, so the tech knows what to fix."}
    return why[:MAX_REASON], {}


def reassign_from_fields(values: Values) -> tuple[str | None, Errors]:
    """The words a reassign form adds to `reassign SR-7 "<from>"`: who takes the units (named as in
    the text command: a mention, a full name, a unique first name or prefix) and, if given, how many."""
    to, units, errors = reassign_to_from_fields(values)
    if errors or to is None:
        return None, errors
    return quoted(to) + (f" {units}" if units else ""), {}


def reassign_to_from_fields(values: Values) -> tuple[str | None, int | None, Errors]:
    """Who a reassign form names to take the units, and how many (None: all), or the errors."""
    errors: Errors = {}
    to, raw = _entered(values, FormField.TO, errors), _entered(values, FormField.UNITS, errors)
    if not to and FormField.TO not in errors:
        errors[FormField.TO] = "Name who should take the units."
    units = None
    if raw and FormField.UNITS not in errors:
        try:
            units = convert(Kind.UNITS, raw, "units")
        except UsageError as exc:
            errors[FormField.UNITS] = exc.message
    if errors:
        return None, None, errors
    return to[:200], units, {}


def quoted(text: str) -> str:
    """Text as one quoted word of the chat grammar, to complete a button's command."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
