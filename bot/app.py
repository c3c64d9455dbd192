"""The bot process: one Redis pool and one model client, shared by every channel."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import discord
import redis.exceptions
from discord.ext import commands

from bot.game.assembly import build_appeals, build_games, load_configured_bank
from bot.game.host import ModelHost
from bot.game.meaning import warm_up
from bot.game.puzzles import PuzzleBank
from bot.i18n import Translator
from bot.redis_client import connect
from common.config import Config, load_config

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.game", "bot.cogs.scores", "bot.cogs.puzzles", "bot.cogs.ratings", "bot.cogs.appeals")


def intents(message_content: bool) -> discord.Intents:
    chosen = discord.Intents.default()
    chosen.message_content = message_content  # questions as plain messages; /ask works without it
    return chosen


class TurtleSoupBot(commands.AutoShardedBot):
    def __init__(self, config: Config, bank: PuzzleBank) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(config.discord.message_content),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            shard_count=config.discord.shard_count,
            shard_ids=config.discord.shard_ids,
        )
        self.config = config
        self.bank = bank
        self.redis = connect(config.redis, config.game.max_questions_in_flight)
        self.host = ModelHost(config.model)
        self.games = build_games(config, self.redis, self.host, bank)
        self.appeals = build_appeals(config, self.games)

    async def setup_hook(self) -> None:
        await self.tree.set_translator(Translator())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.config.discord.guild_ids:
            for guild_id in self.config.discord.guild_ids:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
        await asyncio.to_thread(warm_up)  # the sentence encoder, before the first question rather than in it
        game = self.get_cog("GameCog")
        try:
            await game.mark_abandoned_replies()  # type: ignore[union-attr]
        except redis.exceptions.RedisError as error:
            log.warning("could not check for replies left mid-stream: %s", error)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.host.close()
            if self.appeals.host is not self.host:
                await self.appeals.host.close()
            await self.redis.aclose()


def create_bot(config: Config | str | Path) -> TurtleSoupBot:
    """Build the bot from a config (or its path); puzzle packs are validated here, before login."""
    if not isinstance(config, Config):
        config = load_config(config)
    return TurtleSoupBot(config, load_configured_bank(config))
