"""What `/progress` shows: the key-fact bar, and each found fact with who found it. Unfound facts stay hidden."""

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
            lines.append(text(language, "progress_found", number=index + 1, fact=fact, who=who))
    if not game.active:
        lines.append(text(language, "progress_ended"))
    return "\n".join(lines)
