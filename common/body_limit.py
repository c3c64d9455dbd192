"""Reading an ASGI request body only up to a cap, then handing it on as if unread.

Both servers (the model service and the web page) put this in front of frameworks that read a
whole body before anything else looks at the request.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, when it sends a valid one."""
    for name, value in scope["headers"]:
        if name.lower() == b"content-length" and value.isdigit():
            return int(value)
    return None


async def read_capped(receive: Receive, cap: int) -> list[Message] | None:
    """The body's messages, or None as soon as they pass `cap` bytes (the rest is never read)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages  # the client left: the app sees the disconnect
        size += len(message.get("body", b""))
        if size > cap:
            return None
        if not message.get("more_body", False):
            return messages


def replaying(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands over the body already read, then whatever comes next (a disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
