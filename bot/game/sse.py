"""A chat completion's server-sent events, read off the HTTP response as plain dicts.

The openai client's own stream stops reading at ``[DONE]`` and leaves its readers (four nested async
generators) to the garbage collector, which asyncio then closes in a task of its own per generator, after the
reply is on screen. This reader reads the body to its end (nothing follows ``[DONE]`` but the end of the body),
so every reader it uses ends with the stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai


async def chunks(response: httpx2.Response) -> AsyncIterator[Any]:
    """Each event's JSON data, in order, until ``[DONE]``; an event carrying ``error`` raises openai.APIError
    (as the openai client does)."""
    data: list[str] = []
    done = False
    async for line in response.aiter_lines():
        if line:
            if line.startswith("data:"):
                data.append(line[6:] if line.startswith("data: ") else line[5:])
            continue  # comments (":" keep-alives), event names and ids carry nothing we read
        if not data or done:
            data.clear()
            continue
        payload = "\n".join(data)
        data.clear()
        if payload.startswith("[DONE]"):
            done = True  # read on to the body's end, so the readers finish
            continue
        event = json.loads(payload)
        if isinstance(event, dict) and event.get("error"):
            error = event["error"]
            message = error.get("message") if isinstance(error, dict) else None
            raise openai.APIError(
                message if isinstance(message, str) and message else "An error occurred during streaming",
                request=response.request,
                body=error,
            )
        yield event


class FinalText(str):
    """The last of a reply's text, passed on as the model's last event (its finish_reason) came: nothing
    follows it. A consumer may judge the reply whole at once, without waiting for the body's end."""
