"""Appeals in Discord: the Appeal button on a verdict, `/appeal`, and the correction. Rules live in bot.game.appeals.

The button is a dynamic item: its custom id names the game, the exchange's number and its asker, so it works
after a restart with nothing kept in memory, and a button from a game that is over says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord
import redis.exceptions
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.game.appeals import APPEALABLE, AppealOutcome, AppealRefused, Appeals, OpenAppeal
from bot.game.facts import progress_bar
from bot.game.session import HostReply, Outcome
from bot.game.verdict import label
from bot.i18n import ui_language
from bot.surfaces import NO_MENTIONS, ButtonsOnPageOne, InteractionReplies
from bot.texts import VERDICT_ICONS, text

if TYPE_CHECKING:
    from bot.app import TurtleSoupBot

log = logging.getLogger(__name__)

CUSTOM_ID = "appeal:{game}:{number}:{asker}"
QUESTION_SHOWN = 100  # characters of the contested question quoted in the channel
MESSAGE_LIMIT = 2000
HISTORY_SEARCHED = 50  # recent channel messages /appeal looks through for the contested reply


class AppealButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"appeal:(?P<game>[0-9a-f]{1,32}):(?P<number>[0-9]{1,9}):(?P<asker>[0-9]{1,20})",
):
    def __init__(self, game_id: str, number: int, asker: int, language: str = "en") -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=text(language, "appeal_button"),
            emoji="⚖️",
            style=discord.ButtonStyle.secondary,
            custom_id=CUSTOM_ID.format(game=game_id, number=number, asker=asker),
        )
        super().__init__(button)
        self.game_id, self.number, self.asker = game_id, number, asker

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> AppealButton:
        return cls(match["game"], int(match["number"]), int(match["asker"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = interaction.client.get_cog("AppealCog")  # type: ignore[attr-defined]
        if cog is None:
            return
        await cog.contest(interaction, self.number, game_id=self.game_id, asker=self.asker, reply=interaction.message)


def appeal_number(reply: HostReply, max_appeals: int) -> int | None:
    """The number of the exchange a reply's Appeal button names (the number it has, or will have once stored:
    questions in a channel are answered in turn); None where the reply gets no button: it is not answered yet,
    or its verdict may not be contested."""
    game = reply.game
    if game is None or max_appeals <= 0 or not game.active or reply.ended:
        return None
    if reply.outcome is Outcome.STREAMING and reply.text:
        return game.questions + 1
    if reply.outcome is Outcome.ANSWERED and reply.verdict in APPEALABLE:
        return game.questions
    return None


def with_appeal_button(
    surface: ButtonsOnPageOne, render: Callable[[HostReply], str], asker: int, max_appeals: int
) -> Callable[[HostReply], str]:
    """`render`, setting the surface's Appeal button for each update as it is drawn (a call site's one change)."""

    shown: dict[tuple[str, int], discord.ui.View] = {}  # one view per exchange, built once, not per streamed update

    def drawn(reply: HostReply) -> str:
        number = appeal_number(reply, max_appeals)
        view = None
        if number is not None and reply.game is not None:
            game = reply.game
            view = shown.get((game.game_id, number))
            if view is None:
                view = shown[game.game_id, number] = discord.ui.View(timeout=None)
                view.add_item(AppealButton(game.game_id, number, asker, game.language))
        surface.view = view
        return render(reply)

    return drawn


def _short(question: str) -> str:
    flat = " ".join(question.split())
    flat = flat if len(flat) <= QUESTION_SHOWN else flat[: QUESTION_SHOWN - 1] + "…"
    return discord.utils.escape_markdown(flat)


def corrected(content: str, old_reply: str, outcome: AppealOutcome, language: str) -> str:
    """The original reply with its correction: the old verdict struck through, the new one and the progress."""
    old = f"{VERDICT_ICONS[outcome.before]} {old_reply}".strip()
    body = f"{VERDICT_ICONS[outcome.after]} {outcome.text}".strip()
    game = outcome.game
    if game.key_facts and (outcome.new_facts or outcome.taken_back or outcome.partial):
        note = progress_bar(*game.progress)
        if outcome.new_facts:
            note += " · " + text(language, "facts_found", count=len(outcome.new_facts))
        if outcome.taken_back:
            note += " · " + text(language, "appeal_taken_back", count=len(outcome.taken_back))
        body += f"\n{note}"
    start = content.find(old) if old else -1
    head = content[:start] if start >= 0 else ""
    was = content[start:] if start >= 0 else content
    struck = "\n".join(f"~~{line}~~" if line.strip() else line for line in was.splitlines())
    edited = f"{head}{struck}\n{body}\n{text(language, 'appeal_note')}"
    return edited if len(edited) <= MESSAGE_LIMIT else f"{body}\n{text(language, 'appeal_note')}"[:MESSAGE_LIMIT]


class AppealCog(commands.Cog):
    def __init__(self, bot: TurtleSoupBot) -> None:
        self.bot = bot
        self.appeals: Appeals = bot.appeals

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(AppealButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(AppealButton)

    @app_commands.command(name="appeal", description=_("Contest the host's verdict on your last question"))
    @app_commands.guild_only()
    async def appeal(self, interaction: discord.Interaction) -> None:
        await self.contest(interaction, None)

    async def contest(
        self,
        interaction: discord.Interaction,
        number: int | None,
        *,
        game_id: str | None = None,
        asker: int | None = None,
        reply: discord.Message | None = None,
    ) -> None:
        """Claim the verdict, say so in the channel, judge it again, then show the outcome and correct the reply."""
        from bot.cogs.game import player_of  # the game cog's notion of a player (moderator included)

        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            channel = self.bot.get_partial_messageable(interaction.channel_id or 0)
        replies = InteractionReplies(interaction, channel)
        player = player_of(interaction.user, interaction.channel)
        language = ui_language(interaction)
        try:
            opened = await replies.in_time(
                self.appeals.open(interaction.channel_id or 0, player, number, game_id=game_id, asker=asker)
            )
        except AppealRefused as refused:
            await replies.send(self._refusal(refused, language), ephemeral=True)
            return
        except redis.exceptions.RedisError as error:
            log.warning("redis unavailable during an appeal: %s", error)
            await replies.send(text(language, "redis_down"), ephemeral=True)
            return
        language = opened.game.language
        who = discord.utils.escape_markdown(interaction.user.display_name)
        question = _short(opened.exchange.question)
        await replies.send(text(language, "appeal_judging", who=who, question=question))
        try:
            outcome = await self.appeals.judge(opened, player, self._asker_name(interaction, opened))
        except AppealRefused as refused:
            await self._tell(interaction, channel, self._refusal(refused, language))
            return
        except redis.exceptions.RedisError as error:
            log.warning("redis unavailable while applying an appeal: %s", error)
            await self._tell(interaction, channel, text(language, "redis_down"))
            return
        before, after = label(outcome.before, language), label(outcome.after, language)
        key = "appeal_changed" if outcome.changed else "appeal_upheld"
        await self._tell(
            interaction, channel, text(language, key, who=who, question=question, before=before, after=after)
        )
        await self._correct(channel, opened, outcome, reply, language)
        if outcome.solved:
            await self._announce_solve(channel, outcome)

    def _asker_name(self, interaction: discord.Interaction, opened: OpenAppeal) -> str | None:
        asker = opened.exchange.user_id
        if interaction.user.id == asker:
            return interaction.user.display_name
        member = interaction.guild.get_member(asker) if interaction.guild else None
        return member.display_name if member else None

    def _refusal(self, refused: AppealRefused, language: str) -> str:
        config = self.bot.config.game
        return text(
            language, f"appeal_{refused.reason}", seconds=round(config.appeal_window), allowed=config.max_appeals
        )

    async def _tell(self, interaction: discord.Interaction, channel: discord.abc.Messageable, content: str) -> None:
        """The appeal's outcome, in place of its "judging again" message (a new message when that is gone)."""
        try:
            await interaction.edit_original_response(content=content, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            await channel.send(content, allowed_mentions=NO_MENTIONS)

    async def _correct(
        self,
        channel: discord.abc.Messageable,
        opened: OpenAppeal,
        outcome: AppealOutcome,
        reply: discord.Message | None,
        language: str,
    ) -> None:
        """Edit the contested reply: the correction when the verdict changed, the button taken off either way."""
        if reply is None:
            reply = await self._find_reply(channel, opened)
        if reply is None:
            return  # not among the recent messages: the outcome message says it all
        content = (
            corrected(reply.content, opened.exchange.reply, outcome, language) if outcome.changed else reply.content
        )
        try:
            await reply.edit(content=content, view=None, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as error:
            log.info("could not correct the appealed reply %s: %s", reply.id, error)

    async def _find_reply(self, channel: discord.abc.Messageable, opened: OpenAppeal) -> discord.Message | None:
        """The bot's reply carrying this exchange's Appeal button, among the channel's recent messages."""
        wanted = CUSTOM_ID.format(game=opened.game.game_id, number=opened.claim.number, asker=opened.exchange.user_id)
        try:
            async for message in channel.history(limit=HISTORY_SEARCHED):
                if self.bot.user is not None and message.author.id != self.bot.user.id:
                    continue
                for row in message.components:
                    for child in getattr(row, "children", ()):
                        if getattr(child, "custom_id", None) == wanted:
                            return message
        except discord.HTTPException as error:
            log.info("could not look for the appealed reply: %s", error)
        return None

    async def _announce_solve(self, channel: discord.abc.Messageable, outcome: AppealOutcome) -> None:
        """A verdict turned Correct solved the puzzle: announced as any solve is (GameCog.announce_solved)."""
        game = outcome.game
        game_cog = self.bot.get_cog("GameCog")
        if game_cog is None:
            log.warning("an appeal solved the game in %s; no game cog is loaded to announce it", game.channel_id)
            return
        solver = next((fact.name for fact in game.found.values() if fact.by == game.solver and fact.name), None)
        name = discord.utils.escape_markdown(solver or str(game.solver))
        await game_cog.announce_solved(channel, game, name)  # type: ignore[attr-defined]


async def setup(bot: TurtleSoupBot) -> None:
    await bot.add_cog(AppealCog(bot))
