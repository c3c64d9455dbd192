"""A server's own puzzles from Discord: /puzzle add (a form), list, remove, export and import.

Every /puzzle command shows answers or changes what /play picks, so each is for members with Manage
Server or the configured `game.puzzle_admin_role`, and every reply is ephemeral.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING, Literal

import discord
import redis.exceptions
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.cogs.puzzle_drafts import DraftDesk
from bot.game.custom_puzzles import (
    MAX_FILE_BYTES,
    CustomPuzzles,
    PuzzleLimitReached,
    puzzle_from_form,
    puzzles_from_file,
)
from bot.game.generate import MAX_THEME_LENGTH
from bot.game.puzzles import MAX_KEY_FACT_LENGTH, MAX_KEY_FACTS, MAX_LENGTHS, Puzzle, PuzzleError
from bot.i18n import ui_language
from bot.rating_texts import rating_text
from bot.rating_views import RATINGS_COG
from bot.server_texts import say

if TYPE_CHECKING:
    from bot.app import TurtleSoupBot

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000
TEXT_INPUT_LIMIT = 4000  # Discord's most for one text input
# The form takes no more than validation accepts, or what was typed past it is lost with the refusal.
KEY_FACTS_INPUT_LIMIT = MAX_KEY_FACTS * (MAX_KEY_FACT_LENGTH + 1)  # one per line
# No stored id is longer, and a reply echoing a longer one could pass 2,000 characters (Discord's 400: no answer).
PuzzleId = app_commands.Range[str, 1, MAX_LENGTHS["id"]]
LIST_ROOM = 1800
EXPORT_NAME = "puzzles.yaml"
FILES_PER_MESSAGE = 10  # Discord's most attachments on one message


def problems_text(error: PuzzleError, language: str) -> str:
    """The validation problems, one per line, cut to fit one message (saying how many were left out)."""
    shown: list[str] = []
    problems = str(error).splitlines()
    room = MESSAGE_LIMIT - 200
    for problem in problems:
        line = f"• {problem}"
        if sum(len(kept) + 1 for kept in shown) + len(line) > room:
            shown.append(say(language, "puzzle_more_problems", more=len(problems) - len(shown)))
            break
        shown.append(line)
    return say(language, "puzzle_invalid", problems="\n".join(shown))


class PuzzleForm(discord.ui.Modal):
    """Discord's form holds five text inputs: language and difficulty come with the command."""

    def __init__(self, cog: PuzzlesCog, ui: str, language: str, difficulty: str | None) -> None:
        super().__init__(title=say(ui, "form_title"))
        self.cog, self.ui, self.language, self.difficulty = cog, ui, language, difficulty
        paragraph = discord.TextStyle.paragraph
        self.title_input = discord.ui.TextInput(
            label=say(ui, "form_title_field"), custom_id="title", max_length=MAX_LENGTHS["title"]
        )
        self.story = discord.ui.TextInput(
            label=say(ui, "form_story"), custom_id="story", style=paragraph, max_length=MAX_LENGTHS["story"]
        )
        self.answer = discord.ui.TextInput(
            label=say(ui, "form_answer"), custom_id="answer", style=paragraph, max_length=MAX_LENGTHS["answer"]
        )
        self.key_facts = discord.ui.TextInput(
            label=say(ui, "form_key_facts"), custom_id="key_facts", style=paragraph, max_length=KEY_FACTS_INPUT_LIMIT
        )
        self.hints = discord.ui.TextInput(
            label=say(ui, "form_hints"), custom_id="hints", style=paragraph, required=False, max_length=TEXT_INPUT_LIMIT
        )
        for item in (self.title_input, self.story, self.answer, self.key_facts, self.hints):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.cog.form_submitted(interaction, self)


class PuzzlesCog(commands.Cog):
    puzzle = app_commands.Group(
        name="puzzle", description=_("This server's own puzzles (Manage Server)"), guild_only=True
    )

    def __init__(self, bot: TurtleSoupBot) -> None:
        self.bot = bot
        game = bot.config.game
        self.puzzles = CustomPuzzles(bot.redis, bot.games.store.prefix, game.max_custom_puzzles)
        self.admin_role = game.puzzle_admin_role
        bot.games.guild_puzzles = self.puzzles.load  # /play picks from these too, in their server
        self.drafts = DraftDesk(bot, self.puzzles, self._problem, self._redis_down)

    async def cog_unload(self) -> None:
        await self.drafts.close()

    def may_manage(self, interaction: discord.Interaction) -> bool:
        user = interaction.user
        if not isinstance(user, discord.Member):
            return False
        if user.guild_permissions.manage_guild:
            return True
        return self.admin_role is not None and any(self.admin_role in (role.name, str(role.id)) for role in user.roles)

    async def _refuse_unless_allowed(self, interaction: discord.Interaction) -> bool:
        """True (after answering) when the member may not manage puzzles here."""
        if self.may_manage(interaction):
            return False
        language = ui_language(interaction)
        role = say(language, "puzzle_role", role=self.admin_role) if self.admin_role else ""
        await interaction.response.send_message(say(language, "puzzle_not_allowed", role=role), ephemeral=True)
        return True

    @puzzle.command(name="add", description=_("Add a puzzle to this server (opens a form)"))
    @app_commands.describe(language=_("Puzzle language: en or zh"), difficulty=_("easy, medium or hard"))
    async def add(
        self,
        interaction: discord.Interaction,
        language: Literal["en", "zh"] | None = None,
        difficulty: Literal["easy", "medium", "hard"] | None = None,
    ) -> None:
        if await self._refuse_unless_allowed(interaction):
            return
        chosen = language or self.bot.config.game.default_language
        await interaction.response.send_modal(PuzzleForm(self, ui_language(interaction), chosen, difficulty))

    async def form_submitted(self, interaction: discord.Interaction, form: PuzzleForm) -> None:
        language = form.ui
        try:
            puzzle = puzzle_from_form(
                "/puzzle add",
                title=form.title_input.value,
                story=form.story.value,
                answer=form.answer.value,
                key_facts=form.key_facts.value,
                hints=form.hints.value,
                language=form.language,
                difficulty=form.difficulty,
            )
            stored = await self.puzzles.add(interaction.guild_id or 0, [puzzle])
        except PuzzleError as error:
            await interaction.response.send_message(self._problem(error, language), ephemeral=True)
            return
        except redis.exceptions.RedisError as error:
            await self._redis_down(interaction, error)
            return
        added = say(
            language,
            "puzzle_added",
            title=discord.utils.escape_markdown(puzzle.title),
            id=puzzle.id,
            language=puzzle.language,
            difficulty=puzzle.difficulty,
            total=stored.total,
        )
        await interaction.response.send_message(added, ephemeral=True)

    @puzzle.command(name="generate", description=_("Have the host model write a new puzzle for you to review"))
    @app_commands.describe(
        language=_("Puzzle language: en or zh"),
        difficulty=_("easy, medium or hard"),
        theme=_("What the puzzle should be about (optional)"),
    )
    async def generate(
        self,
        interaction: discord.Interaction,
        language: Literal["en", "zh"] | None = None,
        difficulty: Literal["easy", "medium", "hard"] | None = None,
        theme: app_commands.Range[str, 1, MAX_THEME_LENGTH] | None = None,
    ) -> None:
        if await self._refuse_unless_allowed(interaction):
            return
        chosen = language or self.bot.config.game.default_language
        await self.drafts.start(interaction, chosen, difficulty, theme)

    @puzzle.command(name="list", description=_("List this server's own puzzles"))
    async def list_puzzles(self, interaction: discord.Interaction) -> None:
        if await self._refuse_unless_allowed(interaction):
            return
        language = ui_language(interaction)
        try:
            puzzles = await self.puzzles.load(interaction.guild_id or 0)
        except redis.exceptions.RedisError as error:
            await self._redis_down(interaction, error)
            return
        if not puzzles:
            await interaction.response.send_message(say(language, "puzzle_list_empty"), ephemeral=True)
            return
        rated = await self._rating_lines(interaction, puzzles, language)
        lines = [say(language, "puzzle_list_title", count=len(puzzles))]
        for shown, puzzle in enumerate(puzzles):
            title = discord.utils.escape_markdown(puzzle.title)
            line = f"`{puzzle.id}` · {puzzle.language} · {puzzle.difficulty} · {title}"
            if puzzle.generated_by:  # written by /puzzle generate: which model wrote it
                line += f" · 🤖 {discord.utils.escape_markdown(puzzle.generated_by)}"
            if puzzle.id in rated:
                line = f"{line} · {rated[puzzle.id]}"
            if sum(len(kept) + 1 for kept in lines) + len(line) > LIST_ROOM:
                lines.append(say(language, "puzzle_list_more", more=len(puzzles) - shown))
                break
            lines.append(line)
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    async def _rating_lines(
        self, interaction: discord.Interaction, puzzles: list[Puzzle], language: str
    ) -> dict[str, str]:
        """Each puzzle's ratings (bot.cogs.ratings), when that cog is loaded and Redis answers."""
        lines_for = getattr(self.bot.get_cog(RATINGS_COG), "lines_for", None)
        if lines_for is None:
            return {}
        try:
            return await lines_for(interaction.guild_id or 0, puzzles, language)
        except redis.exceptions.RedisError as error:
            log.warning("could not read puzzle ratings: %s", error)
            return {}

    @puzzle.command(name="top", description=_("The best-rated puzzles in this server (anyone)"))
    @app_commands.describe(language=_("Only puzzles in this language: en or zh"))
    async def top(self, interaction: discord.Interaction, language: Literal["en", "zh"] | None = None) -> None:
        # Open to every member: titles and votes only, never an answer.
        ui = ui_language(interaction)
        top = getattr(self.bot.get_cog(RATINGS_COG), "top", None)
        if top is None:
            await interaction.response.send_message(rating_text(ui, "top_disabled"), ephemeral=True)
            return
        guild_id = interaction.guild_id or 0
        try:
            bank = await self.bot.games.bank_for(guild_id)
            shown = await top(guild_id, list(bank.by_id.values()), ui, language)
        except redis.exceptions.RedisError as error:
            await self._redis_down(interaction, error)
            return
        await interaction.response.send_message(shown, ephemeral=True)

    @puzzle.command(name="remove", description=_("Remove one of this server's puzzles"))
    @app_commands.describe(puzzle_id=_("The puzzle's id, as /puzzle list shows it"))
    async def remove(self, interaction: discord.Interaction, puzzle_id: PuzzleId) -> None:
        if await self._refuse_unless_allowed(interaction):
            return
        language = ui_language(interaction)
        puzzle_id = puzzle_id.strip()
        try:
            removed = await self.puzzles.remove(interaction.guild_id or 0, puzzle_id)
        except redis.exceptions.RedisError as error:
            await self._redis_down(interaction, error)
            return
        key = "puzzle_removed" if removed else "puzzle_not_found"
        shown = puzzle_id[: MAX_LENGTHS["id"]].replace("`", "'")  # bounded, and kept inside its code span
        await interaction.response.send_message(say(language, key, id=shown), ephemeral=True)

    @puzzle.command(name="export", description=_("This server's puzzles as a puzzle pack file"))
    async def export(self, interaction: discord.Interaction) -> None:
        if await self._refuse_unless_allowed(interaction):
            return
        language = ui_language(interaction)
        try:
            exported = await self.puzzles.export(interaction.guild_id or 0)
        except redis.exceptions.RedisError as error:
            await self._redis_down(interaction, error)
            return
        if exported is None:
            await interaction.response.send_message(say(language, "puzzle_list_empty"), ephemeral=True)
            return
        packs, count = exported
        if len(packs) == 1:
            names = [EXPORT_NAME]
            exported_text = say(language, "puzzle_exported", count=count)
        else:  # each file fits what /puzzle import reads, so every one imports again
            names = [f"puzzles-{number}.yaml" for number in range(1, len(packs) + 1)]
            limit = f"{MAX_FILE_BYTES // 1024:,} KiB"
            exported_text = say(language, "puzzle_exported_parts", count=count, files=len(packs), limit=limit)
        files = [
            discord.File(io.BytesIO(pack.encode("utf-8")), filename=name)
            for pack, name in zip(packs, names, strict=True)
        ]
        batches = [files[start : start + FILES_PER_MESSAGE] for start in range(0, len(files), FILES_PER_MESSAGE)]
        await interaction.response.send_message(exported_text, files=batches[0], ephemeral=True)
        for batch in batches[1:]:
            await interaction.followup.send(files=batch, ephemeral=True)

    @puzzle.command(name="import", description=_("Add the puzzles of a puzzle pack file (YAML)"))
    @app_commands.describe(file=_("A puzzle pack: YAML with a `puzzles:` list"))
    async def import_pack(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        if await self._refuse_unless_allowed(interaction):
            return
        language = ui_language(interaction)
        try:
            data = await file.read()
            # Validating a full pack of long Chinese puzzles takes a while: off the event loop.
            puzzles = await asyncio.to_thread(puzzles_from_file, file.filename, data)
            stored = await self.puzzles.add(interaction.guild_id or 0, puzzles, replace=True)
        except PuzzleError as error:
            await interaction.response.send_message(self._problem(error, language), ephemeral=True)
            return
        except redis.exceptions.RedisError as error:
            await self._redis_down(interaction, error)
            return
        except discord.HTTPException as error:
            log.warning("could not download the pack %s: %s", file.filename, error)
            await interaction.response.send_message(self._problem(PuzzleError(str(error)), language), ephemeral=True)
            return
        imported = say(
            language,
            "puzzle_imported",
            stored=stored.stored,
            file=discord.utils.escape_markdown(file.filename),
            replaced=stored.replaced,
            total=stored.total,
        )
        await interaction.response.send_message(imported, ephemeral=True)

    def _problem(self, error: PuzzleError, language: str) -> str:
        if isinstance(error, PuzzleLimitReached):
            return say(language, "puzzle_limit", limit=error.limit, would=error.would_reach)
        return problems_text(error, language)

    async def _redis_down(self, interaction: discord.Interaction, error: Exception) -> None:
        log.warning("redis unavailable during /puzzle: %s", error)
        await interaction.response.send_message(say(ui_language(interaction), "redis_down"), ephemeral=True)


async def setup(bot: TurtleSoupBot) -> None:
    await bot.add_cog(PuzzlesCog(bot))
