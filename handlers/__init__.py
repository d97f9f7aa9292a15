"""Platform-neutral use cases: a typed command and an actor in, a `Reply` out.

Nothing here imports a chat platform SDK; `handlers.core.Surge` is the one entry point.
"""
