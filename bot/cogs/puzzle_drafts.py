"""/puzzle generate: the host model drafts a puzzle, the admin who asked reviews it privately (answer included) and
approves, regenerates or discards it. Approved puzzles join the server's own (bot.game.custom_puzzles), marked with
the model that wrote them. Everything here is ephemeral: nothing of a draft reaches anyone but that admin.

A draft lives in its message's view, in this process, for `DRAFT_TIMEOUT` seconds: a restart drops the pending
ones (nothing is stored until Approve).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
import redis.exceptions

from bot.game.custom_puzzles import CustomPuzzles
from bot.game.generate import GenerationFailed, PuzzleGenerator, writer_host
from bot.game.puzzles import Puzzle, PuzzleError
from bot.generate_texts import say_generated
from bot.i18n import ui_language
from bot.server_texts import say

if TYPE_CHECKING:
    from bot.app import TurtleSoupBot

log = logging.getLogger(__name__)

DRAFT_TIMEOUT = 15 * 60
REASON_ROOM = 200  # of each refusal's reason shown when every draft was refused
FAILED_ROOM = 1700


class DraftDesk:
    """Drafts puzzles for one bot: its writer model, the known puzzles a draft must not repeat, the server's store."""

    def __init__(
        self,
        bot: TurtleSoupBot,
        store: CustomPuzzles,
        problem_text: Callable[[PuzzleError, str], str],
        redis_down: Callable[[discord.Interaction, Exception], Awaitable[None]],
    ) -> None:
        self.bot = bot
        self.store = store
        self.problem_text = problem_text
        self.redis_down = redis_down
        self.host = writer_host(bot.config)
        self.max_attempts = bot.config.generate.max_attempts

    async def close(self) -> None:
        await self.host.close()

    def generator(self, guild_id: int) -> PuzzleGenerator:
        async def known() -> Sequence[Puzzle]:
            return list((await self.bot.games.bank_for(guild_id)).by_id.values())  # what /play picks from there

        return PuzzleGenerator(self.host, known, self.max_attempts)

    async def start(
        self, interaction: discord.Interaction, language: str, difficulty: str | None, theme: str | None
    ) -> None:
        """Answer /puzzle generate: a private "thinking…", then the draft to review, or why there is none."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        draft = DraftRequest(interaction.user.id, interaction.guild_id or 0, language, difficulty, theme)
        content, embeds, view = await self.draft(draft, ui_language(interaction))
        await interaction.followup.send(content, embeds=embeds, view=view or discord.utils.MISSING, ephemeral=True)

    async def draft(self, request: DraftRequest, ui: str) -> tuple[str, list[discord.Embed], DraftView | None]:
        """A new draft's message (content, embeds, buttons), or the reason there is none (no buttons)."""
        try:
            made = await self.generator(request.guild_id).generate(request.language, request.difficulty, request.theme)
        except GenerationFailed as failure:
            return failure_text(failure, ui), [], None
        except redis.exceptions.RedisError as error:
            log.warning("redis unavailable while generating a puzzle: %s", error)
            return say(ui, "redis_down"), [], None
        intro = say_generated(ui, "draft_intro", model=made.puzzle.generated_by, tried=len(made.attempts))
        return intro, draft_embeds(made.puzzle, ui), DraftView(self, request, made.puzzle, ui)


@dataclass(frozen=True, slots=True)
class DraftRequest:
    """What the admin asked for, kept so Regenerate asks the same."""

    user_id: int
    guild_id: int
    language: str
    difficulty: str | None
    theme: str | None


def failure_text(failure: GenerationFailed, ui: str) -> str:
    if failure.unavailable:
        return say_generated(ui, "unavailable", reason=failure.unavailable)
    lines: list[str] = []
    for attempt in failure.attempts:
        reason = attempt.reason or ""
        shown = reason if len(reason) <= REASON_ROOM else reason[: REASON_ROOM - 1] + "…"
        line = f"{attempt.number}. {discord.utils.escape_markdown(shown)}"
        if sum(len(kept) + 1 for kept in lines) + len(line) > FAILED_ROOM:
            break
        lines.append(line)
    return say_generated(ui, "failed", count=len(failure.attempts), reasons="\n".join(lines))


def draft_embeds(puzzle: Puzzle, ui: str) -> list[discord.Embed]:
    """The story as players would see it, then the answer, key facts and hints (the draft's limits keep the two
    within Discord's 6,000 characters a message)."""
    story = discord.Embed(title=f"🐢 {puzzle.title}", description=puzzle.story, colour=discord.Colour.teal())
    facts = "\n".join(f"{number}. {fact}" for number, fact in enumerate(puzzle.key_facts, start=1))
    hints = "\n".join(f"• {hint}" for hint in puzzle.hints)
    details = (
        f"{puzzle.answer}\n\n**{say_generated(ui, 'key_facts')}**\n{facts}\n\n**{say_generated(ui, 'hints')}**\n{hints}"
    )
    answer = discord.Embed(
        title=say_generated(ui, "answer_title"), description=details, colour=discord.Colour.dark_teal()
    )
    answer.set_footer(
        text=say_generated(
            ui, "footer", language=puzzle.language, difficulty=puzzle.difficulty, model=puzzle.generated_by
        )
    )
    return [story, answer]


class DraftView(discord.ui.View):
    """Approve / Regenerate / Discard under one draft, for the admin who asked for it."""

    def __init__(self, desk: DraftDesk, request: DraftRequest, puzzle: Puzzle, ui: str) -> None:
        super().__init__(timeout=DRAFT_TIMEOUT)
        self.desk, self.request, self.puzzle, self.ui = desk, request, puzzle, ui
        self.approve.label = say_generated(ui, "approve")
        self.regenerate.label = say_generated(ui, "regenerate")
        self.discard.label = say_generated(ui, "discard")

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.request.user_id:
            return True
        await interaction.response.send_message(say_generated(ui_language(interaction), "not_yours"), ephemeral=True)
        return False

    @discord.ui.button(label="Approve", style=discord.ButtonStyle.success)
    async def approve(self, interaction: discord.Interaction, button: discord.ui.Button[DraftView]) -> None:
        try:
            stored = await self.desk.store.add(self.request.guild_id, [self.puzzle])
        except PuzzleError as error:
            await interaction.response.send_message(self.desk.problem_text(error, self.ui), ephemeral=True)
            return
        except redis.exceptions.RedisError as error:
            await self.desk.redis_down(interaction, error)
            return
        self.stop()
        puzzle = self.puzzle
        added = say_generated(
            self.ui,
            "approved",
            title=discord.utils.escape_markdown(puzzle.title),
            id=puzzle.id,
            language=puzzle.language,
            difficulty=puzzle.difficulty,
            model=puzzle.generated_by,
            total=stored.total,
        )
        await interaction.response.edit_message(content=added, view=None)

    @discord.ui.button(label="Regenerate", style=discord.ButtonStyle.secondary)
    async def regenerate(self, interaction: discord.Interaction, button: discord.ui.Button[DraftView]) -> None:
        self.stop()
        await interaction.response.defer()  # a draft takes longer than Discord's 3 s
        content, embeds, view = await self.desk.draft(self.request, self.ui)
        await interaction.edit_original_response(content=content, embeds=embeds, view=view)

    @discord.ui.button(label="Discard", style=discord.ButtonStyle.danger)
    async def discard(self, interaction: discord.Interaction, button: discord.ui.Button[DraftView]) -> None:
        self.stop()
        await interaction.response.edit_message(content=say_generated(self.ui, "discarded"), embeds=[], view=None)
