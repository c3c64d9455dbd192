"""OpenAI chat-completion request and response shapes.

The fields the service reads itself (messages, stream, sampling, token limits, stop, n) are
validated strictly, as OpenAI validates them: `"stream": "yes"`, `"temperature": "0.5"` or
`"max_tokens": 5.5` are 400s rather than guesses. Every other field is kept as sent, never dropped:
the relay forwards it to its upstream (which answers for it), the local backend honours it or
refuses it with a 400 naming it (model_service/backends/local_fields.py). What no backend can
honour (images, tool messages) is refused here with a 400 naming the field.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

Role = Literal["system", "developer", "user", "assistant"]
TOOL_ROLES = ("tool", "function")  # OpenAI's, refused: tool calls are neither relayed nor run locally
MAX_STOP_SEQUENCES = 4
# Above every model's output limit today (OpenAI's largest is 128,000 tokens) and far above what
# `request_timeout` lets any backend generate; the local model caps it lower (chatglm.max_new_tokens).
MAX_TOKENS_LIMIT = 131_072
# Strict: JSON types are taken as they are (no "yes" for true, no "0.5" for 0.5); ints pass as floats.
# Unknown fields are kept (model_extra), so that they reach a backend that can answer for them.
REQUEST_CONFIG = ConfigDict(extra="allow", strict=True)
# Fields the service itself answers for: the client's own stream to us, and the model we serve.
SERVICE_OWNED = frozenset({"model", "stream", "stream_options"})


class TextPart(BaseModel):
    model_config = REQUEST_CONFIG

    type: Literal["text"]
    text: str


def _unsupported(message: str) -> PydanticCustomError:
    # A custom error keeps the message as written (no "Value error, " prefix) in the 400's body.
    return PydanticCustomError("unsupported_value", message)


def check_content(value: Any) -> Any:
    """Refuse what `ChatMessage.text()` would otherwise turn into an empty or partial string."""
    if value is None:
        raise _unsupported(
            "content must be a string or a list of text parts, not null "
            "(an assistant message with only tool_calls is not supported: this service has no tools)"
        )
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise _unsupported("content must be a string or a list of text parts")
    if not value:
        raise _unsupported("content must not be an empty list")
    for index, part in enumerate(value):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "text":
            shown = repr(kind) if isinstance(kind, str) else "no type"
            raise _unsupported(
                f"content part {index} has {shown}: only text parts are supported (no images, audio or files)"
            )
        if not isinstance(part.get("text"), str):
            raise _unsupported(f"content part {index} needs a string `text`")
    return value


class ChatMessage(BaseModel):
    model_config = REQUEST_CONFIG

    role: Role
    content: str | list[TextPart]
    name: str | None = None

    @field_validator("role", mode="before")
    @classmethod
    def _check_role(cls, value: Any) -> Any:
        if value in TOOL_ROLES:
            raise _unsupported(f"role {value!r} is not supported: this service does not support tools")
        return value

    @field_validator("content", mode="before")
    @classmethod
    def _check_content(cls, value: Any) -> Any:
        return check_content(value)

    def text(self) -> str:
        """The message's text; text parts are joined (validation let no other kind through)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    # The service writes the client's stream itself: an option it does not know is refused, not ignored.
    model_config = ConfigDict(extra="forbid", strict=True)

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = REQUEST_CONFIG

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_LIMIT)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_LIMIT)
    stop: str | list[str] | None = None
    n: int | None = 1
    seed: int | None = None
    user: str | None = None

    @field_validator("stop")
    @classmethod
    def _check_stop(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > MAX_STOP_SEQUENCES:
            raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed")
        return value

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        items = [self.stop] if isinstance(self.stop, str) else self.stop
        return [item for item in items if item]

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def wants_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage

    def forwarded_fields(self) -> dict[str, Any]:
        """Every field the client sent, validated but as sent, less what the service owns."""
        sent = self.model_dump(exclude_unset=True)
        return {name: value for name, value in sent.items() if name not in SERVICE_OWNED}


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def chunk_payload(
    ident: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    logprobs: Any = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk`, as OpenAI streams them."""
    payload: dict[str, Any] = {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}],
    }
    if usage is not None:
        payload["usage"] = usage
    return payload


def completion_payload(
    ident: str, model: str, message: dict[str, Any], finish_reason: str, usage: dict[str, Any], logprobs: Any = None
) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": finish_reason}],
        "usage": usage,
    }


def models_payload(model: str, created: int) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": model, "object": "model", "created": created, "owned_by": "turtle-soup"}]}
