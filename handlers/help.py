"""`help`, generated from the command registry and filtered to what the sender may do."""
from __future__ import annotations

from pydantic import BaseModel

from handlers.common import not_on_roster, session
from handlers.errors import UsageError
from handlers.grammar import Arg, Kind
from handlers.lifecycle import deactivated
from handlers.registry import ANYONE, PREFIXED, REGISTRY, command
from handlers.types import Context, Fact, Reply


class Help(BaseModel):
    topic: str | None = None


@command("help", summary="what you may do; `help claim` for one command", usage="help [command]",
         example="help claim", roles={ANYONE}, who="anyone", args=[Arg("topic", Kind.WORD, required=False)], reads_only=True)
def help_(cmd: Help, ctx: Context) -> Reply:
    actor = ctx.actor
    if cmd.topic:
        spec = REGISTRY.get(cmd.topic.lower().lstrip("/"))
        if spec is None:
            raise UsageError(f"There is no command “{cmd.topic[:30]}”. Type `help` for the list.")
        return Reply(title=spec.name, text=f"{spec.summary}.\nWho: {spec.who}.",
                     fields=[Fact(label="Usage", value=f"`{spec.usage}`"), Fact(label="Example", value=f"`{spec.example}`")])
    allowed = [s for s in (*REGISTRY.values(), *PREFIXED.values()) if s.allows(actor.roles, actor.known)]
    lines = [f"`{s.usage}` — {s.summary}" for s in sorted(allowed, key=lambda s: s.name)]
    intro = (f"Hi {(actor.name or '').split()[0]}! Here's what you can do:" if actor.known
             else f"{deactivated(session(ctx), actor.identity) or not_on_roster(session(ctx))} Meanwhile:")
    return Reply(title="Surge commands", text=intro + "\n" + "\n".join(lines) +
                 "\nRequest ids: SR-7, sr-7 or 7. Quote values with spaces: `customer=\"Acme Ltd\"`.")
