"""OpenAI chat-completion request and response shapes (the subset this service honours).

Unknown request fields are ignored, as OpenAI does, so clients that send newer options still work.
Known fields are validated strictly, as OpenAI validates them: `"stream": "yes"`, `"temperature":
"0.5"` or `"max_tokens": 5.5` are 400s rather than guesses. What the service cannot honour (images,
tools) is refused with a 400 naming the field, never relayed as something else.
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
REQUEST_CONFIG = ConfigDict(extra="ignore", strict=True)


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
    model_config = REQUEST_CONFIG

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


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


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
    usage: Usage | None = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk`, as OpenAI streams them."""
    payload: dict[str, Any] = {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None:
        payload["usage"] = usage.model_dump()
    return payload


def completion_payload(ident: str, model: str, text: str, finish_reason: str, usage: Usage) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage.model_dump(),
    }


def models_payload(model: str, created: int) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": model, "object": "model", "created": created, "owned_by": "turtle-soup"}]}
