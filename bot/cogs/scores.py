"""Scores on Discord: /leaderboard and /stats, and the periodic sweep that counts expired games."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Literal

import discord
import redis.exceptions
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.game.scores import Board, PlayerStats, ScoreKeeper
from bot.i18n import ui_language
from bot.server_texts import say
from bot.surfaces import NO_MENTIONS

if TYPE_CHECKING:
    from bot.app import TurtleSoupBot

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 300.0
BOARD_COLOUR = discord.Colour.gold()


def board_embed(board: Board, language: str) -> discord.Embed:
    title = say(language, "board_title_all" if board.period == "all" else "board_title_week", week=board.label)
    lines = [
        say(language, "board_line", rank=rank, who=f"<@{player}>", points=points)
        for rank, (player, points) in enumerate(board.top, start=1)
    ]
    if not lines:
        lines = [say(language, "board_empty")]
    own = (
        say(language, "your_rank", rank=board.rank, points=board.points)
        if board.rank is not None
        else say(language, "not_ranked")
    )
    embed = discord.Embed(title=title, description="\n".join([*lines, "", own]), colour=BOARD_COLOUR)
    totals = {name: board.totals.get(name, 0) for name in ("games", "solves", "questions", "facts", "hints")}
    embed.set_footer(text=f"{say(language, 'server_totals', **totals)}\n{say(language, 'score_rule')}")
    return embed


def stats_embed(stats: PlayerStats, name: str, language: str) -> discord.Embed:
    none = say(language, "no_rank")
    body = say(
        language,
        "stats_body",
        **stats.stats,
        rank=stats.rank or none,
        week_points=stats.week_points or 0,
        week_rank=stats.week_rank or none,
    )
    embed = discord.Embed(title=say(language, "stats_title", name=name), description=body, colour=BOARD_COLOUR)
    embed.set_footer(text=say(language, "score_rule"))
    return embed


class ScoresCog(commands.Cog):
    def __init__(self, bot: TurtleSoupBot) -> None:
        self.bot = bot
        store = bot.games.store
        self.keeper = ScoreKeeper(bot.redis, store.prefix, store.ttl)
        store.events = self.keeper  # every game that ends is counted from here on
        self._sweeper: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def cog_unload(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def _sweep_forever(self) -> None:
        """Every few minutes, end and count the idle games of this process's servers. Two processes serving
        the same servers may both sweep: ending a game and counting it are each done once, atomically."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
            try:
                result = await self.keeper.sweep([guild.id for guild in self.bot.guilds])
            except redis.exceptions.RedisError as error:
                log.warning("the expiry sweep could not reach Redis: %s", error)
                continue
            if result.expired:
                log.info("expiry sweep: %d idle game(s) ended and counted", result.expired)

    @app_commands.command(name="leaderboard", description=_("This server's top players"))
    @app_commands.describe(period=_("week (this ISO week) or all (all time)"))
    @app_commands.guild_only()
    async def leaderboard(self, interaction: discord.Interaction, period: Literal["week", "all"] = "week") -> None:
        language = ui_language(interaction)
        try:
            board = await self.keeper.board(interaction.guild_id or 0, period, interaction.user.id)
        except redis.exceptions.RedisError as error:
            log.warning("redis unavailable during /leaderboard: %s", error)
            await interaction.response.send_message(say(language, "redis_down"), ephemeral=True)
            return
        await interaction.response.send_message(embed=board_embed(board, language), allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="stats", description=_("A player's solves, key facts, questions, hints and games"))
    @app_commands.describe(member=_("Whose stats (yours when left out)"))
    @app_commands.guild_only()
    async def stats(self, interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        language = ui_language(interaction)
        who = member or interaction.user
        try:
            stats = await self.keeper.stats(interaction.guild_id or 0, who.id)
        except redis.exceptions.RedisError as error:
            log.warning("redis unavailable during /stats: %s", error)
            await interaction.response.send_message(say(language, "redis_down"), ephemeral=True)
            return
        name = discord.utils.escape_markdown(who.display_name)
        await interaction.response.send_message(embed=stats_embed(stats, name, language), allowed_mentions=NO_MENTIONS)


async def setup(bot: TurtleSoupBot) -> None:
    await bot.add_cog(ScoresCog(bot))
