"""The one interface every backend implements; the HTTP layer knows nothing else about them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GenerationRequest:
    """A chat request after validation: plain role/content messages and sampling options.

    `fields` is every field the client sent, validated but otherwise as sent (messages included),
    less what the service owns (`model`, `stream`, `stream_options`): the relay forwards them, a
    local backend honours or refuses each one.
    """

    messages: list[dict[str, str]]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delta:
    """A piece of the reply. The last one carries `finish_reason` ("stop" or "length")."""

    text: str = ""
    finish_reason: str | None = None
    tokens: int | None = None  # tokens this piece stands for; None counts one per piece with text
    prompt_tokens: int | None = None  # when the backend knows the prompt's size
    # The upstream's other delta fields, as it sent them: thinking (`reasoning_content`,
    # `reasoning`), `tool_calls`, `refusal`. A local backend sends none.
    fields: Mapping[str, Any] | None = None
    logprobs: Any = None  # the upstream's choice-level logprobs for this piece
    usage: Mapping[str, Any] | None = None  # the upstream's own usage object, verbatim

    @property
    def has_output(self) -> bool:
        """The model produced something (text or thinking): it is alive, the first token has come."""
        return bool(self.text or self.fields)


class Backend(ABC):
    """Produces reply text for chat requests.

    `stream` is an async generator. Closing it early (the client went away, a timeout fired)
    must stop the work behind it: cancel the upstream request or stop local generation.
    Failures are raised as `model_service.errors.ServiceError` subclasses.
    """

    name: str = "backend"

    @abstractmethod
    async def start(self) -> None:
        """Acquire resources (clients, model weights). Raises `BackendStartError` when that fails."""

    @abstractmethod
    async def close(self) -> None:
        """Release resources; called once on shutdown."""

    @abstractmethod
    async def ready(self) -> bool:
        """True when a request now would be served (weights loaded, upstream reachable)."""

    @abstractmethod
    def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        """Yield reply pieces as they are produced."""

    # A backend that relays can ask its upstream for a whole answer, and give it back as it came.
    answers_whole = False

    async def complete(self, request: GenerationRequest) -> dict[str, Any]:
        """A whole `chat.completion` body, for backends with `answers_whole`."""
        raise NotImplementedError


class BackendStartError(RuntimeError):
    """The backend cannot start; the message says what to do about it."""
