"""Putting the engine together from the config: the bot, terminal play and the benchmarks share it."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from bot.game.appeals import Appeals
from bot.game.host import ModelHost
from bot.game.puzzles import PuzzleBank, load_bank
from bot.game.session import GameService
from bot.game.store import GameStore
from common.config import Config

SECONDS_PER_DAY = 86400


def load_configured_bank(config: Config) -> PuzzleBank:
    """Built-in and configured packs; relative pack paths are relative to the config file."""
    base = Path(config.source).parent if config.source != "<defaults>" else Path.cwd()
    return load_bank(config.game.puzzle_files, config.game.include_builtin, base)


def build_games(
    config: Config,
    client: aioredis.Redis | RedisCluster,
    host: ModelHost,
    bank: PuzzleBank,
    ttl_seconds: int | None = None,
) -> GameService:
    """The game service over one Redis client and one model client; games expire after
    `game.expire_after_days` unless `ttl_seconds` says otherwise."""
    game = config.game
    ttl = ttl_seconds if ttl_seconds is not None else int(game.expire_after_days * SECONDS_PER_DAY)
    store = GameStore(client, config.redis.key_prefix, ttl, game.transcript_cap, game.recent_puzzles)
    return GameService(store, bank, host, game)


def build_appeals(config: Config, games: GameService) -> Appeals:
    """Appeals over the game service: judged by the host's own client, or by `appeal.model`'s when it differs."""
    model = config.appeal.model_for(config.model)
    host = games.host if model is config.model else ModelHost(model)
    return Appeals(games, host, config.appeal.samples)
