"""Backends: where completions come from. `make_backend` picks one from the config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from model_service.backends.base import Backend, Delta, GenerationRequest

if TYPE_CHECKING:
    from common.config import ModelServiceConfig

__all__ = ["Backend", "Delta", "GenerationRequest", "make_backend"]


def make_backend(config: ModelServiceConfig) -> Backend:
    if config.backend == "openai":
        from model_service.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    # Imported lazily: the chatglm backend needs the `local` extra (torch, transformers).
    from model_service.backends.chatglm import ChatGLMBackend

    return ChatGLMBackend(config)
