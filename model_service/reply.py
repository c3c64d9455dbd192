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
    """A whole answer from streamed deltas, field for field as the upstream would have answered whole.

    Text fields (`content`, `reasoning_content`, `reasoning`, `refusal`) are concatenated,
    `tool_calls` are merged by index (their `arguments` arrive in pieces), logprobs are joined.
    """

    def __init__(self) -> None:
        self.text: list[str] = []
        self.fields: dict[str, Any] = {}
        self.logprobs: dict[str, list[Any]] | None = None
        self.finish = "stop"

    def add(self, delta: Delta) -> None:
        if delta.text:
            self.text.append(delta.text)
        for name, value in (delta.fields or {}).items():
            if name == "tool_calls" and isinstance(value, list):
                _merge_tool_calls(self.fields.setdefault("tool_calls", []), value)
            elif isinstance(value, str) and isinstance(self.fields.get(name, ""), str):
                self.fields[name] = self.fields.get(name, "") + value
            else:
                self.fields[name] = value
        if isinstance(delta.logprobs, Mapping):
            self.logprobs = self.logprobs or {}
            for name, items in delta.logprobs.items():
                if isinstance(items, list):
                    self.logprobs.setdefault(name, []).extend(items)
        self.finish = delta.finish_reason or self.finish

    def message(self) -> dict[str, Any]:
        text = "".join(self.text)
        # OpenAI's `content` is null in a reply that only calls tools.
        content = None if not text and self.fields.get("tool_calls") else text
        return {"role": "assistant", "content": content, **self.fields}


def _merge_tool_calls(calls: list[dict[str, Any]], pieces: list[Any]) -> None:
    for piece in pieces:
        if not isinstance(piece, Mapping):
            continue
        index = piece.get("index", len(calls))
        while len(calls) <= index:
            calls.append({})
        call = calls[index]
        for name, value in piece.items():
            if name == "index":
                continue
            if name == "function" and isinstance(value, Mapping):
                function = call.setdefault("function", {})
                for key, part in value.items():
                    function[key] = function.get(key, "") + part if isinstance(part, str) else part
            else:
                call[name] = value
