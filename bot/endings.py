"""How the end of a game looks in Discord: the end-of-game summary embed and the limit notices."""

from __future__ import annotations

from collections.abc import Callable

import discord

from bot.game.limits import QUESTION_LIMIT, SECONDS_PER_MINUTE, TIME_LIMIT
from bot.game.store import Game
from bot.game.summary import SOLVED_REASON, Summary, duration_parts
from bot.texts import text

SUMMARY_COLOUR = discord.Colour.dark_gold()
FOUND, NOT_FOUND = "✅", "⬜"


def who(player_id: int | None) -> str:
    """A player as a mention (shown as their name; embeds never ping)."""
    return f"<@{player_id}>" if player_id is not None else "?"


def format_duration(language: str, seconds: float) -> str:
    hours, minutes, secs = duration_parts(seconds)
    if hours:
        return text(language, "duration_hours", hours=hours, minutes=minutes, seconds=secs)
    return text(language, "duration_minutes", minutes=minutes, seconds=secs)


def summary_lines(summary: Summary, language: str, name: Callable[[int | None], str] = who) -> list[str]:
    """The summary's lines; `name` shows a player (a mention in Discord, "you" on the web page)."""
    if summary.reason == SOLVED_REASON:
        lines = [text(language, "summary_solved_by", solver=name(summary.solver))]
    else:
        lines = [text(language, f"summary_reason_{summary.reason}")]
    questions = str(summary.questions)
    if summary.max_questions is not None:
        questions = f"{summary.questions}/{summary.max_questions}"
    lines.append(text(language, "summary_questions", questions=questions))
    lines.append(text(language, "summary_time", duration=format_duration(language, summary.seconds)))
    hints = str(summary.hints_used)
    if summary.max_hints is not None:
        hints = f"{summary.hints_used}/{summary.max_hints}"
    lines.append(text(language, "summary_hints", hints=hints))
    if summary.appeals:
        lines.append(text(language, "summary_appeals", appeals=summary.appeals, changed=summary.appeals_changed))
    if summary.facts:
        found = sum(line.found_by is not None for line in summary.facts)
        lines.append("")
        lines.append(text(language, "summary_facts", found=found, total=len(summary.facts)))
        for line in summary.facts:
            if line.found_by is None:
                lines.append(f"{NOT_FOUND} {line.fact}")
            else:
                lines.append(f"{FOUND} {line.fact} — {text(language, 'summary_found_by', player=name(line.found_by))}")
    return lines


def summary_embed(game: Game, summary: Summary) -> discord.Embed:
    return discord.Embed(
        title=text(game.language, "summary_title"),
        description="\n".join(summary_lines(summary, game.language)),
        colour=SUMMARY_COLOUR,
    )


def limit_notice(game: Game) -> str:
    """What the channel is told when a limit ends the game."""
    if game.ended_reason == QUESTION_LIMIT:
        return text(game.language, "limit_questions", limit=game.max_questions)
    if game.ended_reason == TIME_LIMIT and game.time_limit is not None:
        minutes = game.time_limit / SECONDS_PER_MINUTE
        return text(game.language, "limit_time", minutes=f"{minutes:g}")
    return text(game.language, "limit_reached")
