"""The one interface every backend implements; the HTTP layer knows nothing else about them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GenerationRequest:
    """A chat request after validation: plain role/content messages and sampling options."""

    messages: list[dict[str, str]]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Delta:
    """A piece of the reply. The last one carries `finish_reason` ("stop" or "length")."""

    text: str = ""
    finish_reason: str | None = None
    tokens: int | None = None  # tokens this piece stands for; None counts one per piece with text
    prompt_tokens: int | None = None  # when the backend knows the prompt's size


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


class BackendStartError(RuntimeError):
    """The backend cannot start; the message says what to do about it."""
