"""/newgame racing a solve: the game it read as active was solved before it replaced it. That game was
announced as solved by its solver; /newgame must not reveal it a second time as "ended before it was solved".
GameService.new_game reveals a game only when the store says this start ended it (or it had expired)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from bot.game.puzzles import PuzzleBank, builtin_puzzles
from bot.game.session import GameService, Player
from bot.game.store import Exchange, GameStore
from common.config import GameConfig

CHANNEL = 4242


class SilentHost:
    """No question reaches the model in these tests."""

    async def stream(self, messages: list[dict[str, str]], verdict: object = None) -> AsyncIterator[str]:
        raise AssertionError("not asked")
        yield ""


async def test_replacing_reports_whether_an_active_game_was_ended(redis_url: str) -> None:
    client = aioredis.from_url(redis_url, decode_responses=True)
    puzzle = builtin_puzzles()[0]
    games = GameService(GameStore(client, "race", 3600, 40, 10), PuzzleBank([puzzle]), SilentHost(), GameConfig())
    alice, bob = Player(1, "alice"), Player(2, "bob")
    try:
        first = await games.start(CHANNEL, alice, puzzle.language)
        replaced = await games.store.start(CHANNEL, games._fields(puzzle, alice), replacing=first.game_id)
        assert replaced.created and replaced.replaced_status == "active"  # this start ended it

        # Bob solves the game /newgame is about to replace (it read it as active a moment ago).
        seen = replaced.game
        solve = Exchange("the answer?", "Correct!", "correct", bob.id, time.time())
        assert await games.store.append(seen, solve, solved_by=bob.id, finder=bob.name)
        after = await games.store.start(CHANNEL, games._fields(puzzle, alice), replacing=seen.game_id)
        assert after.created and after.replaced_status == "solved"  # ended (and announced) by its solver
    finally:
        await client.aclose()
