"""The command registry: every chat command, its grammar, who may use it and its handler.

`help` is produced from this registry, so it can never list a command that does not exist.
"""
from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from pydantic import BaseModel, ValidationError

from handlers.errors import UsageError
from handlers.grammar import Arg, Opt, bind, split_command
from handlers.types import Context, Reply

Handler = Callable[[BaseModel, Context], Reply]
C = TypeVar("C", bound=BaseModel)  # a command's own model

ANYONE = "anyone"  # even someone not on the roster
KNOWN = "known"  # anyone on the roster


@dataclass(frozen=True)
class CommandSpec:
    name: str
    summary: str
    usage: str
    example: str
    model: type[BaseModel]
    handler: Handler
    roles: frozenset[str] = frozenset({KNOWN})
    args: tuple[Arg, ...] = ()
    opts: dict[str, Opt] = field(default_factory=dict)
    who: str = "anyone known"
    reads_only: bool = False  # changes nothing and tells no one else: runs as a read-only unit of work

    def allows(self, roles: frozenset[str] | set[str], known: bool) -> bool:
        if ANYONE in self.roles:
            return True
        if KNOWN in self.roles:
            return known
        return bool(self.roles & set(roles))


REGISTRY: dict[str, CommandSpec] = {}
# A command that also takes another kind of id (`approve EX-4` beside `approve SR-7 <person>`):
# (name, id prefix) → its spec, chosen by the first word's prefix; request ids keep the main spec.
PREFIXED: dict[tuple[str, str], CommandSpec] = {}
_ID = re.compile(r"^([A-Za-z]{2})-?\d{1,9}$")


def command(
    name: str,
    *,
    summary: str,
    usage: str,
    example: str,
    roles: set[str] | None = None,
    args: list[Arg] | None = None,
    opts: dict[str, Opt] | None = None,
    who: str = "anyone known",
    reads_only: bool = False,
    prefix: str | None = None,
) -> Callable[[Callable[[C, Context], Reply]], Callable[[C, Context], Reply]]:
    def register(fn: Callable[[C, Context], Reply]) -> Callable[[C, Context], Reply]:
        model = typing.get_type_hints(fn)["cmd"]
        spec = CommandSpec(
            name=name, summary=summary, usage=usage, example=example, model=model,
            handler=cast(Handler, fn),  # called only with its own model: `parse` builds `cmd` from `model`
            roles=frozenset(roles or {KNOWN}), args=tuple(args or ()), opts=dict(opts or {}), who=who,
            reads_only=reads_only,
        )
        if prefix:
            PREFIXED[(name, prefix.upper())] = spec
        else:
            REGISTRY[name] = spec
        return fn

    return register


def spec_for(model: type[BaseModel]) -> CommandSpec:
    for spec in (*REGISTRY.values(), *PREFIXED.values()):
        if spec.model is model:
            return spec
    raise KeyError(model)


def parse(text: str) -> BaseModel:
    """Chat text to a typed command, or a `UsageError` that says what was wrong."""
    word, tokens = split_command(text)
    spec = REGISTRY.get(word)
    if tokens and tokens[0].option_key is None and (m := _ID.match(tokens[0].text)):
        spec = PREFIXED.get((word, m.group(1).upper()), spec)
    if spec is None:
        if not word:
            raise UsageError("A command starts with its name.", example="claim SR-7 12")
        close = difflib.get_close_matches(word, REGISTRY, n=1, cutoff=0.6)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        shown = word if len(word) <= 30 else word[:29] + "…"
        raise UsageError(f"I don't know the command “{shown}”.{hint} Type `help` to see what you can do.")
    values = bind(spec.name, tokens, list(spec.args), spec.opts, spec.example)
    try:
        return spec.model(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"{first['msg'].removeprefix('Value error, ')}.", example=spec.example) from None
