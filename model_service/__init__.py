"""OpenAI-compatible chat service over an upstream API or a local ChatGLM-style model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_service.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so `python -m model_service` can report a bad config before importing FastAPI.
    if name == "create_app":
        from model_service.app import create_app

        return create_app
    raise AttributeError(name)
