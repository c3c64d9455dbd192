"""One reply as it is produced: its usage, and (for a whole answer) its message put together from deltas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model_service.backends.base import Delta


class UsageTally:
    """The upstream's own usage when it sent one; otherwise what the backend counted."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.upstream: dict[str, Any] | None = None

    def add(self, delta: Delta) -> None:
        self.completion_tokens += delta.tokens if delta.tokens is not None else (1 if delta.has_output else 0)
        if delta.prompt_tokens is not None:
            self.prompt_tokens = delta.prompt_tokens
        if delta.usage is not None:
            self.upstream = dict(delta.usage)

    def final(self) -> dict[str, Any]:
        if self.upstream is not None:
            return self.upstream
        total = self.prompt_tokens + self.completion_tokens
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens, "total_tokens": total}


def reasoning_tokens(usage: Mapping[str, Any]) -> int:
    """Thinking tokens, where the upstream reports them (OpenAI's completion_tokens_details)."""
    details = usage.get("completion_tokens_details")
    count = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    return count if isinstance(count, int) and count > 0 else 0


class MessageAssembly:
    """A whole answer put together from a backend's stream (the local model's; the relay asks its
    upstream for a whole answer instead). Text fields are concatenated, others keep their last value."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.fields: dict[str, Any] = {}
        self.finish = "stop"

    def add(self, delta: Delta) -> None:
        if delta.text:
            self.text.append(delta.text)
        for name, value in (delta.fields or {}).items():
            earlier = self.fields.get(name, "")
            self.fields[name] = earlier + value if isinstance(value, str) and isinstance(earlier, str) else value
        self.finish = delta.finish_reason or self.finish

    def message(self) -> dict[str, Any]:
        return {"role": "assistant", "content": "".join(self.text), **self.fields}
