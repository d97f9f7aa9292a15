"""The chat command grammar, shared by Slack, Teams and the console.

`/surge claim SR-7 12`, `request "DST fixes" units=40 deadline=2027-03-10 customer="Acme Ltd"`.
Words are split on spaces; double quotes (straight or curly) group words; `key=value` is an option.
Apostrophes are ordinary letters, so `problem SR-7 customer's server is down` needs no quotes.
A value with spaces is quoted: a stray word after an option or a one-word argument is refused with the
quoted value to type, never glued onto it. Text is cleaned once at the entry (`clean`: no control or
invisible format characters; a lone surrogate is refused), numbers are read once (digits of any
script, compared as numbers), and dates lie between 2000 and 2100.
Every way a command can be wrong has its own answer, with one correct example.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from handlers.errors import UsageError

MAX_MESSAGE = 6000
FIRST_YEAR, LAST_YEAR = 2000, 2100  # dates outside are typing mistakes (and 9999 overflows a time zone)
_OPEN_QUOTES = {'"': '"', "\u201c": "\u201d", "\u201d": "\u201d", "\u201e": "\u201c"}
_PREFIX = re.compile(r"^/surge(?=\s|$)", re.IGNORECASE)
_OPTION = re.compile(r"^([A-Za-z][A-Za-z_-]*)=")
_REQUEST_ID = re.compile(r"^(?:sr[-\s]?|#)?(\d{1,9})$", re.IGNORECASE)
_MONEY = re.compile(r"^\$?([0-9]{1,7})(?:\.([0-9]{1,2}))?$")
_TRUE = {"yes", "y", "true", "on", "1"}
_FALSE = {"no", "n", "false", "off", "0"}


class Kind(StrEnum):
    REQUEST = "request"  # SR-7, sr-7, 7
    UNITS = "units"  # a whole number above 0
    INT = "int"  # a whole number above 0 (minutes, techs, tier)
    NUMBER = "number"  # a number above 0 (hours)
    MONEY = "money"  # dollars, to cents
    DATE = "date"  # ISO date or date and time, in the sender's time zone
    BOOL = "bool"
    LIST = "list"  # comma separated
    SCORE = "score"  # 1..5
    TEXT = "text"
    PERSON = "person"  # a mention or a roster name
    WORD = "word"


@dataclass(frozen=True)
class Arg:
    name: str
    kind: Kind
    required: bool = True
    rest: bool = False  # takes every remaining word
    max_len: int = 200


@dataclass(frozen=True)
class Opt:
    kind: Kind
    required: bool = False
    max_len: int = 200


@dataclass(frozen=True)
class Token:
    text: str
    option_key: str | None = None  # set for key=value


@dataclass
class Parsed:
    name: str
    values: dict[str, Any] = field(default_factory=dict)


def clean(text: str) -> str:
    """Text as Surge keeps it: NFC, without control characters (PostgreSQL refuses NUL) and without
    invisible format characters (right-to-left overrides, zero-width spaces, byte-order marks: they
    make a partner card read differently from what it says), but with emoji intact (a zero-width
    joiner between two symbols and the tags of a flag stay). A lone surrogate is not text at all: refused."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(
            f"That message has a broken character (U+{ord(text[exc.start]):04X}, half of a UTF-16 pair) that isn't "
            "text. Type it again, or paste it from somewhere else."
        ) from None
    text = unicodedata.normalize("NFC", text)
    if text.isascii() and text.isprintable():
        return text  # most commands: nothing to drop
    kept: list[str] = []
    for i, ch in enumerate(text):
        cat = unicodedata.category(ch)
        if cat == "Cc" and ch not in "\n\t":
            continue
        if cat == "Cf" and not _in_emoji(text, i):
            continue
        kept.append(ch)
    return "".join(kept)


def _in_emoji(text: str, i: int) -> bool:
    """A format character that belongs to an emoji: a zero-width joiner between two symbols (👩‍🔧),
    or a tag of a subdivision flag (🏴 followed by tags)."""
    ch = text[i]
    if ch == "\u200d":
        j = i - 1
        while j >= 0 and (text[j] == "\ufe0f" or "\U0001f3fb" <= text[j] <= "\U0001f3ff"):
            j -= 1  # a variation selector or a skin tone between the symbol and the joiner
        return j >= 0 and i + 1 < len(text) and unicodedata.category(text[j]) == "So" \
            and unicodedata.category(text[i + 1]) == "So"
    if "\U000e0020" <= ch <= "\U000e007f":
        j = i - 1
        while j >= 0 and "\U000e0020" <= text[j] <= "\U000e007f":
            j -= 1
        return j >= 0 and text[j] == "\U0001f3f4"
    return False


def ascii_digits(raw: str) -> str | None:
    """A string of decimal digits in any script (٣, ۳, ３) as ASCII digits; None if it isn't one.
    `int()` reads them all, so every number is read here, once, and then compared as a number."""
    if not raw.isdecimal():
        return None
    return raw if raw.isascii() else "".join(str(unicodedata.decimal(ch)) for ch in raw)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    buf: list[str] = []
    quote_close: str | None = None
    quoted_from: int | None = None  # where the first quote of this word began

    def flush() -> None:
        nonlocal buf, quoted_from
        if buf or quoted_from is not None:
            word = "".join(buf)
            m = _OPTION.match(word)
            key = m.group(1).lower() if m and (quoted_from is None or m.end() <= quoted_from) else None
            tokens.append(Token(word[m.end():] if m and key else word, key))
        buf, quoted_from = [], None

    chars = iter(text)
    for ch in chars:
        if quote_close:
            if ch == "\\":
                nxt = next(chars, "")
                buf.append(nxt if nxt in '"\u201c\u201d' else "\\" + nxt)
            elif ch == quote_close or (quote_close != '"' and ch == '"'):
                quote_close = None
            else:
                buf.append(ch)
        elif ch in _OPEN_QUOTES:
            quote_close = _OPEN_QUOTES[ch]
            if quoted_from is None:
                quoted_from = len(buf)
        elif ch.isspace():
            flush()
        else:
            buf.append(ch)
    if quote_close:
        raise UsageError(
            "A quote is not closed. Put text with spaces between a pair of double quotes.",
            example='problem SR-7 "server room is locked"',
        )
    flush()
    return tokens


def convert(kind: Kind, raw: str, name: str, *, max_len: int = 200) -> Any:
    raw = clean(raw).strip()  # the chat text is cleaned at the entry already; a form's fields are not
    if kind is Kind.REQUEST:
        m = _REQUEST_ID.match(raw)
        digits = ascii_digits(m.group(1)) if m else None
        if digits is None:
            raise UsageError(f"“{_short(raw)}” is not a request id. Request ids look like SR-7 (or just 7).")
        return int(digits)
    if kind in (Kind.UNITS, Kind.INT):
        # isdecimal, not isdigit: "²" is a digit that int() refuses. Every script's digits are read as
        # the number they are ("٠" is 0, and refused like "0"); zeros are stripped before int(),
        # which refuses strings of more than 4,300 digits.
        digits = ascii_digits(raw)
        if digits is None or not digits.lstrip("0"):
            raise UsageError(f"{name.capitalize()} must be a whole number above 0, like 12; “{_short(raw)}” isn't.")
        digits = digits.lstrip("0")
        value = int(digits) if len(digits) <= 9 else 1_000_001
        if value > 1_000_000:
            raise UsageError(f"{name.capitalize()} must be at most 1,000,000; “{_short(raw)}” is too large.")
        return value
    if kind is Kind.NUMBER:
        try:
            number = Decimal(raw)
        except InvalidOperation:
            number = Decimal(0)
        if not number.is_finite() or float(number) <= 0 or number > 24 * 366:
            raise UsageError(f"{name.capitalize()} must be a number above 0, like 6 or 7.5; “{_short(raw)}” isn't.")
        return float(number)
    if kind is Kind.MONEY:
        m = _MONEY.match("".join(ascii_digits(ch) or ch for ch in raw))
        if not m:
            raise UsageError(f"{name.capitalize()} must be an amount in dollars, like 35 or 35.50; “{_short(raw)}” isn't.")
        return int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))
    if kind is Kind.DATE:
        return parse_date(raw, name)
    if kind is Kind.BOOL:
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise UsageError(f"{name.capitalize()} must be yes or no; “{_short(raw)}” isn't.")
    if kind is Kind.LIST:
        items = [i.strip().lower() for i in raw.split(",") if i.strip()]
        if not items:
            raise UsageError(f"{name.capitalize()} needs at least one item, separated by commas, like windows,networking.")
        for item in items:
            _check_len(item, name, 40)
        return items
    if kind is Kind.SCORE:
        if (ascii_digits(raw) or raw) not in {"1", "2", "3", "4", "5"}:
            raise UsageError(f"{name.capitalize()} is a score from 1 (poor) to 5 (excellent); “{_short(raw)}” isn't.")
        return int(ascii_digits(raw) or raw)
    if not raw:
        raise UsageError(f"{name.capitalize()} cannot be empty.")
    _check_len(raw, name, max_len)
    return raw


def parse_date(raw: str, name: str = "date") -> datetime:
    """An ISO date (meaning 17:00 that day) or date and time, as a naive local datetime."""
    try:
        if "T" in raw or "t" in raw:
            value = datetime.fromisoformat(raw.upper()).replace(tzinfo=None, second=0, microsecond=0)
        else:
            value = datetime.combine(datetime.strptime(raw, "%Y-%m-%d").date(), time(17, 0))
    except ValueError:
        raise UsageError(
            f"“{_short(raw)}” is not a date for {name}. Use 2027-03-10, or 2027-03-10T17:00 for a time."
        ) from None
    return check_year(value, name, raw)


def check_year(value: datetime, name: str, raw: str | None = None) -> datetime:
    """Refuse a date before 2000 or after 2100: a typing mistake, never a plan."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        shown = f"“{_short(raw)}”" if raw else str(value.year)
        raise UsageError(f"{shown} is not a date Surge plans for ({name}): use a date between "
                         f"{FIRST_YEAR} and {LAST_YEAR}, like 2027-03-10.")
    return value


def _check_len(value: str, name: str, max_len: int) -> None:
    if len(value) > max_len:
        raise UsageError(
            f"{name.capitalize()} is {len(value):,} characters long; keep it to {max_len:,}."
        )


def _short(raw: str, n: int = 40) -> str:
    return raw if len(raw) <= n else raw[: n - 1] + "…"


def split_command(text: str) -> tuple[str, list[Token]]:
    """The command word (lower case) and the remaining tokens."""
    text = clean(text)
    if len(text) > MAX_MESSAGE:
        raise UsageError(f"That message is {len(text):,} characters long; Surge reads commands up to {MAX_MESSAGE:,}.")
    text = text.strip()
    text = _PREFIX.sub("", text, count=1)
    tokens = tokenize(text)
    if not tokens:
        return "help", []
    first = tokens[0]
    if first.option_key:
        return "", tokens
    return first.text.lower(), tokens[1:]


def bind(name: str, tokens: list[Token], args: list[Arg], opts: dict[str, Opt], example: str) -> dict[str, Any]:
    """Match tokens to a command's arguments and options, converting each to its type."""
    values: dict[str, Any] = {}
    words = [(i, t.text) for i, t in enumerate(tokens) if t.option_key is None]
    for token in tokens:
        if token.option_key is None:
            continue
        key = token.option_key.replace("-", "_")
        if key not in opts:
            known = ", ".join(sorted(opts)) or "none"
            raise UsageError(f"`{name}` has no option “{_short(key)}” (its options: {known}).", example=example)
        if key in values:
            raise UsageError(f"Option {key} is given twice.", example=example)
        values[key] = convert(opts[key].kind, token.text, key, max_len=opts[key].max_len)
    took: dict[int, Arg] = {}  # token index → the argument that took it
    for i, arg in enumerate(args):
        if not words:
            if arg.required:
                raise UsageError(f"`{name}` needs {_article(arg)}.", example=example)
            break
        if arg.rest:
            raw, words = " ".join(w for _, w in words), []
        elif arg.kind is Kind.UNITS and not arg.required and i == len(args) - 1 and len(words) > 1:
            break  # extra words are reported below
        else:
            took[words[0][0]] = arg
            raw, words = words[0][1], words[1:]
        values[arg.name] = convert(arg.kind, raw, arg.name, max_len=arg.max_len)
    if words:
        raise UsageError(f"`{name}` doesn't know what to do with “{_short(' '.join(w for _, w in words))}”."
                         + _quote_hint(tokens, words[0][0], took), example=example)
    for key, opt in opts.items():
        if opt.required and key not in values:
            raise UsageError(f"`{name}` needs {key}=….", example=example)
    return values


def _quote_hint(tokens: list[Token], first: int, took: dict[int, Arg]) -> str:
    """When a stray word follows an option, a title or a name, it was most likely meant as part of it:
    a value with spaces must be quoted (a stray word is never glued onto another value)."""
    if first == 0:
        return ""
    before = tokens[first - 1]
    arg = took.get(first - 1)
    if before.option_key is None and (arg is None or arg.kind not in (Kind.TEXT, Kind.PERSON, Kind.WORD)):
        return ""
    run = [before.text]
    for token in tokens[first:]:
        if token.option_key is not None:
            break
        run.append(token.text)
    value = '"' + _short(" ".join(run), 60).replace('"', '\\"') + '"'
    if before.option_key is not None:
        return f" A value with spaces must be quoted: {before.option_key}={value}."
    return f" A value with spaces must be quoted: {value}."


def _article(arg: Arg) -> str:
    return {
        Kind.REQUEST: "a request id, like SR-7",
        Kind.PERSON: "a person (a mention, or a roster name in quotes)",
        Kind.UNITS: "a number of units",
    }.get(arg.kind, f"the {arg.name.replace('_', ' ')}")
