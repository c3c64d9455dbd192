"""What `/progress` shows: the key-fact bar, and each found fact with who found it. Unfound facts stay hidden.

Until the game ends a found fact is shown by its number and the finder's own question, never its text: a fact
credited by mistake (the host talked into naming it) then gives nothing of the answer away. The facts' text
is shown once the game has ended, as in the summary."""

from __future__ import annotations

import discord

from bot.game.facts import progress_bar
from bot.game.store import Game
from bot.texts import text


def progress_text(game: Game) -> str:
    language = game.language
    title = discord.utils.escape_markdown(game.title)
    if not game.key_facts:
        return text(language, "progress_none", title=title)
    lines = [text(language, "progress_title", title=title, bar=progress_bar(*game.progress))]
    for index, fact in enumerate(game.key_facts):
        found = game.found.get(index)
        if found is None:
            lines.append(text(language, "progress_unfound", number=index + 1))
        else:
            who = discord.utils.escape_markdown(found.name or str(found.by))
            if game.active:
                asked = discord.utils.escape_markdown(finding_question(game, index, found.by))
                lines.append(text(language, "progress_found_by_question", number=index + 1, question=asked, who=who))
            else:
                lines.append(text(language, "progress_found", number=index + 1, fact=fact, who=who))
    if not game.active:
        lines.append(text(language, "progress_ended"))
    return "\n".join(lines)


QUESTION_SHOWN = 120  # characters of the finder's question shown beside a found fact


def finding_question(game: Game, index: int, finder: int) -> str:
    """The question of ``finder``'s that found key fact ``index`` (the transcript keeps which facts each
    exchange found); empty when the transcript was not loaded or no longer holds it."""
    for exchange in game.transcript:
        if index in exchange.facts and exchange.user_id == finder:
            question = " ".join(exchange.question.split())
            return question if len(question) <= QUESTION_SHOWN else question[: QUESTION_SHOWN - 1] + "…"
    return ""
