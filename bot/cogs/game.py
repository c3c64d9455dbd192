"""The game's Discord face: slash commands and questions as plain messages. Rules live in bot.game."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Literal

import discord
import redis.exceptions
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.cogs.appeals import with_appeal_button
from bot.endings import limit_notice, summary_embed
from bot.game.puzzles import PuzzleError
from bot.game.session import (
    ChannelBusy,
    CoolingDown,
    GameAlreadyRunning,
    GameChanged,
    GameError,
    HostReply,
    LimitReached,
    NoActiveGame,
    NoHint,
    NotAllowed,
    Outcome,
    Overloaded,
    Player,
    QuestionRejected,
)
from bot.game.store import Game
from bot.game.timers import GameTimers
from bot.i18n import ui_language
from bot.progress import progress_text
from bot.rating_views import RATINGS_COG, RatingOffer, placed
from bot.streaming import EditBudgets, stream_to
from bot.surfaces import NO_MENTIONS, InteractionReplies, InteractionSurface, MessageReplySurface, embed_batches
from bot.texts import IN_PROGRESS, format_reply, no_hint_key, text

if TYPE_CHECKING:
    from bot.app import TurtleSoupBot

log = logging.getLogger(__name__)

Language = Literal["en", "zh"]
Difficulty = Literal["easy", "medium", "hard"]
COOLDOWN_NOTICES_KEPT = 10_000
STORY_COLOUR = discord.Colour.teal()
REVEAL_COLOUR = discord.Colour.gold()


# What the bot needs in a channel to host there (the README's invite asks for exactly these).
REQUIRED_PERMISSIONS = {
    "view_channel": "View Channels",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "read_message_history": "Read Message History",
}


def player_of(user: discord.abc.User, channel: object = None) -> Player:
    moderator = False
    if isinstance(user, discord.Member) and isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        moderator = channel.permissions_for(user).manage_messages
    return Player(user.id, user.display_name, moderator)


def missing_permission(channel: object) -> str | None:
    """The first permission the bot lacks in `channel`, by its name in Discord's settings."""
    if not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        return None
    granted = channel.permissions_for(channel.guild.me)
    needed = dict(REQUIRED_PERMISSIONS)
    if isinstance(channel, discord.Thread):
        needed["send_messages_in_threads"] = "Send Messages in Threads"
        del needed["send_messages"]
    return next((label for name, label in needed.items() if not getattr(granted, name)), None)


def story_embed(game: Game) -> discord.Embed:
    embed = discord.Embed(title=f"🐢 {game.title}", description=game.story, colour=STORY_COLOUR)
    embed.set_footer(text=text(game.language, "story_footer"))
    return embed


def reveal_embed(game: Game) -> discord.Embed:
    return discord.Embed(
        title=text(game.language, "reveal_title", title=game.title), description=game.answer, colour=REVEAL_COLOUR
    )


def solved_embed(game: Game, solver: str) -> discord.Embed:
    description = text(game.language, "solved", solver=solver, questions=game.questions, answer=game.answer)
    return discord.Embed(
        title=text(game.language, "solved_title", title=game.title), description=description, colour=REVEAL_COLOUR
    )


class MissingPermission(GameError):
    def __init__(self, permission: str) -> None:
        super().__init__(f"missing permission {permission}")
        self.permission = permission


class GameCog(commands.Cog):
    def __init__(self, bot: TurtleSoupBot) -> None:
        self.bot = bot
        self.games = bot.games
        self.interval = bot.config.stream.edit_interval
        self.first_wait = bot.config.stream.first_post_wait
        self.chatter_prefix = bot.config.game.chatter_prefix
        self._cooldown_notices: dict[tuple[int, int], float] = {}
        self.edit_budgets = EditBudgets()  # Discord's edit limit is per channel, across replies
        self.timers = GameTimers(self.games, self._announce_time_up)
        self._background: set[asyncio.Task[None]] = set()

    async def cog_load(self) -> None:
        # In the background: a restarted bot answers at once and finds its timed games meanwhile.
        task = asyncio.create_task(self.timers.keep_stored(), name="keep-stored-time-limits")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def cog_unload(self) -> None:
        for task in self._background:
            task.cancel()
        self.timers.close()

    # -- commands --------------------------------------------------------------------

    @app_commands.command(name="play", description=_("Start a lateral-thinking puzzle in this channel"))
    @app_commands.describe(
        language=_("Puzzle language: en or zh"), difficulty=_("Puzzle difficulty: easy, medium or hard")
    )
    @app_commands.guild_only()
    async def play(
        self, interaction: discord.Interaction, language: Language | None = None, difficulty: Difficulty | None = None
    ) -> None:
        replies = self._replies(interaction)
        await self.answering(replies, self._play(replies, language, difficulty))

    @app_commands.command(name="newgame", description=_("Reveal the answer and start a new puzzle"))
    @app_commands.describe(
        language=_("Puzzle language: en or zh"), difficulty=_("Puzzle difficulty: easy, medium or hard")
    )
    @app_commands.guild_only()
    async def newgame(
        self, interaction: discord.Interaction, language: Language | None = None, difficulty: Difficulty | None = None
    ) -> None:
        replies = self._replies(interaction)
        await self.answering(replies, self._newgame(replies, language, difficulty))

    @app_commands.command(name="hint", description=_("Get a hint (a few per game)"))
    @app_commands.guild_only()
    async def hint(self, interaction: discord.Interaction) -> None:
        replies = self._replies(interaction)
        await self.answering(replies, self._hint(replies))

    @app_commands.command(name="stop", description=_("Reveal the answer and end the game"))
    @app_commands.guild_only()
    async def stop(self, interaction: discord.Interaction) -> None:
        replies = self._replies(interaction)
        await self.answering(replies, self._stop(replies))

    @app_commands.command(name="ask", description=_("Ask the host a yes/no question"))
    @app_commands.describe(question=_("Your yes/no question or your guess"))
    @app_commands.guild_only()
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        replies = self._replies(interaction)
        await self.answering(replies, self._ask(replies, question))

    @app_commands.command(name="progress", description=_("Show the key facts found so far"))
    @app_commands.guild_only()
    async def progress(self, interaction: discord.Interaction) -> None:
        replies = self._replies(interaction)
        await self.answering(replies, self._progress(replies))

    async def _progress(self, replies: InteractionReplies) -> None:
        """Only the caller sees it (no clutter in the channel); found facts are no secret to the table."""
        game = await replies.in_time(self.games.progress(replies.interaction.channel_id or 0))
        await replies.send(progress_text(game), ephemeral=True)

    def _replies(self, interaction: discord.Interaction) -> InteractionReplies:
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            channel = self.bot.get_partial_messageable(interaction.channel_id or 0)
        return InteractionReplies(interaction, channel)

    async def _play(self, replies: InteractionReplies, language: str | None, difficulty: str | None) -> None:
        interaction = replies.interaction
        self._require_permissions(interaction)
        player = player_of(interaction.user, interaction.channel)
        try:
            game = await replies.in_time(
                self.games.start(
                    interaction.channel_id or 0, player, language, difficulty, guild_id=interaction.guild_id
                )
            )
        except PuzzleError:
            if difficulty is None:
                raise
            await self._no_puzzles_of(replies, difficulty)
            return
        self.timers.keep(game)
        await replies.send(embeds=[story_embed(game)])

    async def _newgame(self, replies: InteractionReplies, language: str | None, difficulty: str | None) -> None:
        interaction = replies.interaction
        self._require_permissions(interaction)
        player = player_of(interaction.user, interaction.channel)
        try:
            revealed, game = await replies.in_time(
                self.games.new_game(
                    interaction.channel_id or 0, player, language, difficulty, guild_id=interaction.guild_id
                )
            )
        except PuzzleError:
            if difficulty is None:
                raise
            await self._no_puzzles_of(replies, difficulty)
            return
        self.timers.keep(game)
        if revealed is None and game.started_by != interaction.user.id:
            lost = text(ui_language(interaction), "lost_race")
            await replies.send(lost, embeds=[story_embed(game)], ephemeral=True)
            return
        ending: list[discord.Embed] = []
        offer, summary = None, None
        if revealed is not None:
            summary = summary_embed(revealed, await self.games.summarise(revealed, revealed.found))
            ending = [reveal_embed(revealed), summary]
            offer = await self._rating_offer(revealed)
        # A long answer and a long story may not fit in one message: then they go out as two.
        for embeds in embed_batches([*ending, story_embed(game)]):
            content, rating = placed(offer, None, embeds, summary) if summary is not None else (None, {})
            await replies.send(content, embeds=embeds, **rating)

    async def _stop(self, replies: InteractionReplies) -> None:
        interaction = replies.interaction
        game = await replies.in_time(
            self.games.stop(interaction.channel_id or 0, player_of(interaction.user, interaction.channel))
        )
        self.timers.drop(game.channel_id, game.game_id)
        who = discord.utils.escape_markdown(interaction.user.display_name)
        summary = summary_embed(game, await self.games.summarise(game))
        offer = await self._rating_offer(game)
        for number, embeds in enumerate(embed_batches([reveal_embed(game), summary])):
            notice = text(game.language, "stopped", who=who) if number == 0 else None
            content, rating = placed(offer, notice, embeds, summary)
            await replies.send(content, embeds=embeds, **rating)

    async def _hint(self, replies: InteractionReplies) -> None:
        interaction = replies.interaction
        self._require_permissions(interaction)
        try:
            hint = await replies.in_time(
                self.games.hint(interaction.channel_id or 0, player_of(interaction.user, interaction.channel))
            )
        except LimitReached as ended:
            # Its time ran out with nobody keeping the clock: reveal it now; the caller hears "no game".
            await self._reveal_at_limit(replies.channel, ended.game)
            raise NoActiveGame() from None
        self.timers.keep(hint.game)
        who = discord.utils.escape_markdown(interaction.user.display_name)
        shown = text(
            hint.game.language, "hint", number=hint.number, allowed=hint.game.max_hints, who=who, hint=hint.text
        )
        await replies.send(shown)

    async def _no_puzzles_of(self, replies: InteractionReplies, difficulty: str) -> None:
        language = ui_language(replies.interaction)
        named = text(language, f"difficulty_{difficulty}")
        await replies.send(text(language, "no_puzzles_difficulty", difficulty=named), ephemeral=True)

    async def _ask(self, replies: InteractionReplies, question: str) -> None:
        interaction, channel = replies.interaction, replies.channel
        self._require_permissions(interaction)
        surface = InteractionSurface(interaction, channel, expired=replies.expired)
        updates = self.games.ask(
            interaction.channel_id or 0,
            player_of(interaction.user, interaction.channel),
            question,
            self._shown_in(surface, interaction.guild),
        )
        # Closed on every way out: a failure before streaming (deferring, say) must not leave the game's
        # generator holding the channel's turn until garbage collection.
        async with aclosing(updates):
            # The game's refusals come before anything is shown; a question waiting on a slow Redis
            # gets the interaction deferred meanwhile.
            first = await replies.in_time(anext(updates))
            language = first.game.language if first.game else ui_language(interaction)
            asked = discord.utils.escape_markdown(question.strip())
            who = discord.utils.escape_markdown(interaction.user.display_name)
            heading = text(language, "asked", who=who, question=asked)

            def render(reply: HostReply) -> str:
                return f"{heading}\n{format_reply(reply, language)}"

            final = await stream_to(
                surface,
                _prepend(first, updates),
                with_appeal_button(surface, render, interaction.user.id, self.bot.config.game.max_appeals),
                self.interval,
                _is_done,
                _is_placeholder,
                self.edit_budgets.of(interaction.channel_id or 0),
                first_wait=self.first_wait,
                ends_wait=_posts_at_once,
                on_shown=self._noting(surface, interaction.guild),
            )
        await self._announce(channel, final, interaction.user)

    # -- questions as plain messages -------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if not self._is_question(message):
            return
        if missing_permission(message.channel) is not None:
            return  # cannot answer here; /play and /ask say which permission is missing
        surface = MessageReplySurface(message)
        updates = self.games.ask(
            message.channel.id,
            player_of(message.author, message.channel),
            message.content,
            self._shown_in(surface, message.guild),
        )
        try:
            first = await anext(updates)
        except NoActiveGame:
            return
        except Overloaded as error:
            # Refused before any Redis read: answer only where this process has seen a game.
            if error.language is not None:
                notice = self._refusal(error, error.language)
                await message.reply(notice, mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        except (QuestionRejected, ChannelBusy, CoolingDown) as error:
            await self._refuse(message, error)
            return
        except redis.exceptions.RedisError as error:
            # Nobody can tell whether this was a question while the store is down: stay quiet.
            log.warning("redis unavailable, message %s not handled: %s", message.id, error)
            return
        language = first.game.language if first.game else "en"
        final = await stream_to(
            surface,
            _prepend(first, updates),
            with_appeal_button(
                surface,
                lambda reply: format_reply(reply, language),
                message.author.id,
                self.bot.config.game.max_appeals,
            ),
            self.interval,
            _is_done,
            _is_placeholder,
            self.edit_budgets.of(message.channel.id),
            first_wait=self.first_wait,
            ends_wait=_posts_at_once,
            on_shown=self._noting(surface, message.guild),
        )
        await self._announce(message.channel, final, message.author)

    def _is_question(self, message: discord.Message) -> bool:
        if message.author.bot or message.webhook_id is not None or message.guild is None:
            return False
        content = message.content.strip()
        return bool(content) and not (self.chatter_prefix and content.startswith(self.chatter_prefix))

    async def _refuse(self, message: discord.Message, error: GameError) -> None:
        game = await self.games.current(message.channel.id)
        if game is None or not game.active:
            return  # not a game channel: ordinary chat, say nothing
        if isinstance(error, CoolingDown):
            # One "slow down" per player per cooldown, not one per message of a flood.
            key = (message.channel.id, message.author.id)
            now = asyncio.get_running_loop().time()
            if self._cooldown_notices.get(key, float("-inf")) > now:
                return
            self._cooldown_notices[key] = now + error.seconds
            if len(self._cooldown_notices) > COOLDOWN_NOTICES_KEPT:
                self._cooldown_notices = {k: at for k, at in self._cooldown_notices.items() if at > now}
        notice = self._refusal(error, game.language)
        await message.reply(notice, mention_author=False, allowed_mentions=NO_MENTIONS)

    def _refusal(self, cause: Exception, language: str) -> str:
        """What a refusal says to the player, in the game's (or the player's) language."""
        if isinstance(cause, GameAlreadyRunning):
            return text(cause.game.language, "already_running_short", title=cause.game.title)
        if isinstance(cause, QuestionRejected):
            return text(language, cause.reason, limit=self.games.config.max_question_length)
        if isinstance(cause, CoolingDown):
            return text(language, "cooldown", seconds=max(1, round(cause.seconds)))
        if isinstance(cause, GameChanged):
            return text(cause.game.language, "command_game_changed", title=cause.game.title)
        if isinstance(cause, NotAllowed):
            return text(cause.game.language, "not_allowed")
        if isinstance(cause, NoHint):
            return text(cause.game.language, no_hint_key(cause.reason), allowed=cause.game.max_hints)
        if isinstance(cause, MissingPermission):
            return text(language, "missing_permission", permission=cause.permission)
        if isinstance(cause, PuzzleError):
            return text(language, "no_puzzles")
        if isinstance(cause, redis.exceptions.RedisError):
            return text(language, "redis_down")
        simple = {NoActiveGame: "no_game", ChannelBusy: "busy", Overloaded: "host_busy"}
        return text(language, next((key for kind, key in simple.items() if isinstance(cause, kind)), "error"))

    def _noting(
        self, surface: InteractionSurface | MessageReplySurface, guild: discord.Guild | None
    ) -> Callable[[HostReply], Awaitable[None]]:
        """Notes a reply's message in Redis once it shows the reply being answered, so a restarted bot
        can mark it if this process dies mid-stream (a reply posted once, final, is never noted)."""
        shard = self._shard_of(guild)
        noted = False

        async def note(reply: HostReply) -> None:
            nonlocal noted
            if not noted:
                noted = await self.games.note_shown(reply, surface.first_message_id, shard)

        return note

    def _shown_in(
        self, surface: InteractionSurface | MessageReplySurface, guild: discord.Guild | None
    ) -> Callable[[], tuple[int, int] | None]:
        """Where the reply is on screen (shard, message id), once it is: a queued reply is noted from there."""
        shard = self._shard_of(guild)
        return lambda: None if surface.first_message_id is None else (shard, surface.first_message_id)

    def _shard_of(self, guild: discord.Guild | None) -> int:
        """Streaming markers are indexed by shard when shards are split across processes."""
        if guild is None or self.bot.config.discord.shard_ids is None:
            return 0
        return guild.shard_id

    def _require_permissions(self, interaction: discord.Interaction) -> None:
        permission = missing_permission(interaction.channel)
        if permission is not None:
            raise MissingPermission(permission)

    async def mark_abandoned_replies(self) -> None:
        """Replies a previous process left mid-stream get a notice instead of a spinner."""
        shards = self.bot.config.discord.shard_ids or [0]
        for channel_id, message_id, language in await self.games.store.take_abandoned(shards):
            message = self.bot.get_partial_messageable(channel_id).get_partial_message(message_id)
            try:
                current = await message.fetch()
                content = current.content.removesuffix(IN_PROGRESS).rstrip()
                notice = f"{content}\n\n{text(language, 'restarted')}".strip()
                await message.edit(content=notice, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as error:
                log.info("could not mark abandoned reply %s: %s", message_id, error)

    async def _announce(
        self, channel: discord.abc.Messageable, final: HostReply | None, solver: discord.abc.User
    ) -> None:
        if final is None or final.game is None:
            return
        game = final.game
        if final.outcome is Outcome.SOLVED:
            await self.announce_solved(channel, game, discord.utils.escape_markdown(solver.display_name))
        elif final.ended:
            await self._reveal_at_limit(channel, game)
        elif final.outcome in (Outcome.ANSWERED, Outcome.UNCLEAR):
            self.timers.keep(game)  # a game this process had not seen yet (started elsewhere, or before a restart)

    async def announce_solved(self, channel: discord.abc.Messageable, game: Game, solver_name: str) -> None:
        """A solved game: the answer with its solver (`solver_name`, markdown-escaped), the summary, the rating
        buttons; its timer dropped. For a solve by a question and one by an appeal alike."""
        self.timers.drop(game.channel_id, game.game_id)
        summary = summary_embed(game, await self.games.summarise(game))
        offer = await self._rating_offer(game)
        for embeds in embed_batches([solved_embed(game, solver_name), summary]):
            content, rating = placed(offer, None, embeds, summary)
            await channel.send(content, embeds=embeds, allowed_mentions=NO_MENTIONS, **rating)

    async def _reveal_at_limit(self, channel: discord.abc.Messageable, game: Game) -> None:
        """A limit ended the game: the answer, with the summary."""
        self.timers.drop(game.channel_id, game.game_id)
        summary = summary_embed(game, await self.games.summarise(game))
        offer = await self._rating_offer(game)
        for number, embeds in enumerate(embed_batches([reveal_embed(game), summary])):
            content, rating = placed(offer, limit_notice(game) if number == 0 else None, embeds, summary)
            await channel.send(content, embeds=embeds, allowed_mentions=NO_MENTIONS, **rating)

    async def _rating_offer(self, game: Game) -> RatingOffer | None:
        """The rating buttons for a revealed game (bot.cogs.ratings), when that cog is loaded."""
        offer = getattr(self.bot.get_cog(RATINGS_COG), "offer", None)
        return await offer(game) if offer is not None else None

    async def _announce_time_up(self, game: Game) -> None:
        channel = self.bot.get_channel(game.channel_id) or self.bot.get_partial_messageable(game.channel_id)
        try:
            await self._reveal_at_limit(channel, game)  # type: ignore[arg-type]
        except discord.HTTPException as error:
            log.warning("could not reveal the timed-out game in %s: %s", game.channel_id, error)

    # -- errors ----------------------------------------------------------------------

    async def answering(self, replies: InteractionReplies, work: Coroutine[Any, Any, None]) -> None:
        """Run a command; the game's refusals and a Redis outage become an ephemeral reply.

        (Handled here rather than in cog_app_command_error, which discord.py follows with the
        tree's error logging: these are answers, not errors.)"""
        try:
            await work
        except (GameError, PuzzleError, redis.exceptions.RedisError) as error:
            await self._refuse_interaction(replies, error)

    async def _refuse_interaction(self, replies: InteractionReplies, cause: Exception) -> None:
        interaction = replies.interaction
        if isinstance(cause, redis.exceptions.RedisError):
            log.warning("redis unavailable during /%s: %s", interaction.command and interaction.command.name, cause)
        message = self._refusal(cause, ui_language(interaction))
        # A running game is pointed to with its story in an embed (a story may be longer than
        # a message's 2,000 characters).
        embeds = [story_embed(cause.game)] if isinstance(cause, GameAlreadyRunning) else []
        await replies.send(message, embeds=embeds, ephemeral=True)


def _is_done(reply: HostReply) -> bool:
    return reply.done


def _is_placeholder(reply: HostReply) -> bool:
    return reply.placeholder


def _posts_at_once(reply: HostReply) -> bool:
    """A reply that will take a while (queued behind others, or the model is thinking): the players are
    told at once rather than after the first post's wait."""
    return reply.thinking is not None or reply.outcome is Outcome.QUEUED


async def _prepend(first: HostReply, rest: AsyncGenerator[HostReply, None]) -> AsyncIterator[HostReply]:
    async with aclosing(rest):
        yield first
        async for reply in rest:
            yield reply


async def setup(bot: TurtleSoupBot) -> None:
    await bot.add_cog(GameCog(bot))
