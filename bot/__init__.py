"""A Discord bot that hosts lateral-thinking puzzles (海龟汤) with a language model as host."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.app import TurtleSoupBot


def create_bot(config: Any) -> TurtleSoupBot:
    """Build the bot from a Config or a config file path (imported lazily: `bot.play` needs no discord)."""
    from bot.app import create_bot as build

    return build(config)
