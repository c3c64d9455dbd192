"""Ratings in Discord: the offer after a reveal, the clicks on its buttons (bot.rating_views), and what
/puzzle list and /puzzle top show. Votes are counted in Redis by bot.game.ratings, once whichever bot
process receives the click.

Other cogs reach this one by name (`bot.get_cog("RatingsCog")`): discord.py loads each extension as a
module of its own, so its class is not shared by import.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import discord
import redis.exceptions
from discord.ext import commands

from bot.game.puzzles import Puzzle
from bot.game.ratings import DOWN, UP, PuzzleRating, Ratings, VoteResult, players_of, ranking, weight
from bot.game.store import Game
from bot.i18n import ui_language
from bot.rating_texts import rating_text
from bot.rating_views import VOTE_EMOJI, RateButton, RatingOffer

if TYPE_CHECKING:
    from bot.app import TurtleSoupBot

log = logging.getLogger(__name__)

TOP_SHOWN = 10
TOP_ROOM = 1800  # of a message's 2,000 characters, with room for the heading and the rule
LANGUAGE_NAMES = {"en": {"en": "English", "zh": "Chinese"}, "zh": {"en": "英文", "zh": "中文"}}


class RatingsCog(commands.Cog):
    def __init__(self, bot: TurtleSoupBot) -> None:
        self.bot = bot
        self.config = bot.config.game.ratings
        self.ratings = Ratings(bot.redis, bot.games.store.prefix, self.config)
        if self.config.enabled:
            bot.games.puzzle_weights = self.ratings.weights

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(RateButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(RateButton)
        if self.bot.games.puzzle_weights == self.ratings.weights:
            self.bot.games.puzzle_weights = None

    # -- after a reveal ----------------------------------------------------------------

    async def offer(self, game: Game) -> RatingOffer | None:
        """Open the game's ballot for its players; None when nobody played, ratings are off, or Redis fails
        (the reveal goes out without buttons rather than not at all)."""
        players = players_of(game)
        if not self.config.enabled or not players or game.guild_id is None:
            return None
        try:
            await self.ratings.open_ballot(game, players)
        except redis.exceptions.RedisError as error:
            log.warning("could not open the ratings of game %s: %s", game.game_id, error)
            return None
        closes = discord.utils.format_dt(discord.utils.utcnow() + timedelta(seconds=self.ratings.window_seconds), "R")
        title = discord.utils.escape_markdown(game.title)
        prompt = rating_text(game.language, "rate_prompt", title=title, closes=closes)
        view = discord.ui.View(timeout=None)
        for vote in (UP, DOWN):
            view.add_item(RateButton(game.game_id, vote, rating_text(game.language, f"rate_{vote}")))
        return RatingOffer(prompt, view)

    async def clicked(self, interaction: discord.Interaction, game_id: str, vote: str) -> None:
        """A rating button: the clicker alone is told what came of it."""
        try:
            counted = await self.ratings.vote(game_id, interaction.guild_id or 0, interaction.user.id, vote)
        except redis.exceptions.RedisError as error:
            log.warning("could not count a rating of game %s: %s", game_id, error)
            await interaction.response.send_message(
                rating_text(ui_language(interaction), "rate_down_redis"), ephemeral=True
            )
            return
        if counted.result is VoteResult.CLOSED:
            reply = rating_text(ui_language(interaction), "rate_closed")
        else:
            values = {
                "title": discord.utils.escape_markdown(counted.title),
                "vote": VOTE_EMOJI.get(counted.vote, ""),
                "up": counted.here.up,
                "down": counted.here.down,
            }
            reply = rating_text(counted.language, f"rate_{counted.result.value}", **values)
        await interaction.response.send_message(reply, ephemeral=True)

    # -- what /puzzle list and /puzzle top show ----------------------------------------

    async def lines_for(self, guild_id: int, puzzles: Sequence[Puzzle], language: str) -> dict[str, str]:
        """Each puzzle's rating line for /puzzle list (puzzle id -> text)."""
        if not self.config.enabled:
            return {}
        ratings = await self.ratings.of(guild_id, [puzzle.id for puzzle in puzzles])
        return {puzzle_id: self._rating_line(rating, language) for puzzle_id, rating in ratings.items()}

    def _rating_line(self, rating: PuzzleRating, language: str) -> str:
        here, overall = rating.here, rating.overall
        return rating_text(
            language, "rating_line", up=here.up, down=here.down, all_up=overall.up, all_down=overall.down
        )

    async def top(self, guild_id: int, puzzles: Sequence[Puzzle], ui: str, language: str | None) -> str:
        """/puzzle top: the best-rated of the puzzles /play picks from in this server."""
        if not self.config.enabled:
            return rating_text(ui, "top_disabled")
        chosen = [puzzle for puzzle in puzzles if language is None or puzzle.language == language]
        by_id = {puzzle.id: puzzle for puzzle in chosen}
        ratings = await self.ratings.of(guild_id, list(by_id))
        best = ranking(ratings, self.config.min_votes)[:TOP_SHOWN]
        if not best:
            return rating_text(ui, "top_empty")
        if language is None:
            heading = rating_text(ui, "top_title")
        else:
            heading = rating_text(ui, "top_title_language", language=LANGUAGE_NAMES[ui][language])
        lines = [heading]
        for rank, puzzle_id in enumerate(best, start=1):
            line = self._top_line(rank, by_id[puzzle_id], ratings[puzzle_id], ui)
            if sum(len(kept) + 1 for kept in lines) + len(line) > TOP_ROOM:
                break
            lines.append(line)
        lines.append(rating_text(ui, "top_rule", min_votes=self.config.min_votes))
        return "\n".join(lines)

    def _top_line(self, rank: int, puzzle: Puzzle, rating: PuzzleRating, ui: str) -> str:
        retired = rating_text(ui, "top_retired") if weight(rating, self.config) == 0 else ""
        return rating_text(
            ui,
            "top_line",
            rank=rank,
            title=discord.utils.escape_markdown(puzzle.title[:80]),
            id=puzzle.id,
            language=puzzle.language,
            up=rating.here.up,
            down=rating.here.down,
            all_up=rating.overall.up,
            all_down=rating.overall.down,
            retired=retired,
        )


async def setup(bot: TurtleSoupBot) -> None:
    await bot.add_cog(RatingsCog(bot))
