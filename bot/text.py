"""Text shortened to a platform's limit, the same way on every platform: a clipped text ends with a
visible "…" and is never cut inside an `&amp;`-style entity (Slack's escaping of `&`, `<`, `>`)."""
from __future__ import annotations

ENTITIES = ("&amp;", "&lt;", "&gt;")


def safe_cut(text: str, at: int) -> int:
    """`at`, or earlier so that the cut does not fall inside an `&amp;`-style entity."""
    start = text.rfind("&", max(0, at - 4), at)
    if start != -1 and any(text.startswith(e, start) and start + len(e) > at for e in ENTITIES):
        return start
    return at


def clip(text: str, limit: int) -> str:
    """`text` in at most `limit` characters; a clipped text ends with a visible "…", never half an entity."""
    return text if len(text) <= limit else text[: safe_cut(text, limit - 1)] + "…"
