"""Ratings in the engine on a real redis-server: counted once under concurrent clicks, and how a rating
changes how often /play's pick chooses a puzzle (a fixed seed, counted over many picks)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.game.puzzles import Puzzle, PuzzleBank
from bot.game.ratings import DOWN, UP, PuzzleRating, Ratings, Tally, VoteResult, weight
from bot.game.store import Game
from common.config import RatingsConfig

GUILD, OTHER_GUILD = 111, 222
PICKS = 3000


def puzzle(puzzle_id: str) -> Puzzle:
    return Puzzle(puzzle_id, "en", f"Title {puzzle_id}", "A story.", "An answer with words of its own.")


def game(game_id: str, puzzle_id: str, guild_id: int = GUILD) -> Game:
    return Game(game_id, 1, puzzle_id, "en", f"Title {puzzle_id}", "", "", "stopped", 9, 0.0, guild_id=guild_id)


@pytest.fixture
async def ratings(redis_url: str) -> AsyncIterator[Ratings]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield Ratings(client, "soup", RatingsConfig(min_votes=3, retire_below=0.4))
    await client.aclose()


async def rate_game(ratings: Ratings, game_id: str, puzzle_id: str, votes: list[str], guild_id: int = GUILD) -> None:
    """One game of `puzzle_id` whose players 1..n vote `votes`."""
    await ratings.open_ballot(game(game_id, puzzle_id, guild_id), range(1, len(votes) + 1))
    for player, vote in enumerate(votes, start=1):
        assert (await ratings.vote(game_id, guild_id, player, vote)).result is VoteResult.COUNTED


async def test_racing_clicks_of_one_player_count_once(ratings: Ratings) -> None:
    await ratings.open_ballot(game("a1", "liked"), [7])
    results = await asyncio.gather(*(ratings.vote("a1", GUILD, 7, UP if n % 2 else DOWN) for n in range(40)))
    assert sum(r.result is VoteResult.COUNTED for r in results) == 1  # the first to arrive; the rest change it
    rating = (await ratings.of(GUILD, ["liked"]))["liked"]
    assert rating.here.votes == rating.overall.votes == 1  # however the clicks interleaved: one vote
    last = UP if rating.here.up else DOWN
    assert (await ratings.vote("a1", GUILD, 7, last)).result is VoteResult.SAME
    assert await ratings.open_ballot(game("a1", "liked"), [7, 8]) is False  # reopening changes nothing
    assert (await ratings.vote("a1", GUILD, 8, UP)).result is VoteResult.NOT_PLAYER


async def test_a_click_from_another_server_or_a_bad_vote_counts_nothing(ratings: Ratings) -> None:
    await ratings.open_ballot(game("b1", "liked"), [7])
    assert (await ratings.vote("b1", OTHER_GUILD, 7, UP)).result is VoteResult.CLOSED
    assert (await ratings.vote("b1", GUILD, 7, "sideways")).result is VoteResult.CLOSED
    assert (await ratings.vote("B1!", GUILD, 7, UP)).result is VoteResult.CLOSED
    assert (await ratings.of(GUILD, ["liked"]))["liked"].overall.votes == 0


async def test_a_rating_changes_how_often_a_puzzle_is_picked(ratings: Ratings) -> None:
    bank = PuzzleBank([puzzle(name) for name in ("liked", "plain", "mixed", "retired")])
    await rate_game(ratings, "c1", "liked", [UP, UP, UP, UP])
    await rate_game(ratings, "c2", "mixed", [UP, UP, DOWN])  # 2 of 3 liked: a little likelier than unrated
    await rate_game(ratings, "c3", "retired", [DOWN, DOWN, UP])  # 1 of 3 < 0.4 with min_votes 3: retired

    weights = await ratings.weights(GUILD, bank.by_language["en"])
    assert weights is not None
    rng = random.Random(2024)
    rated = Counter(bank.pick("en", rng=rng, weights=weights).id for _ in range(PICKS))
    rng = random.Random(2024)
    even = Counter(bank.pick("en", rng=rng).id for _ in range(PICKS))

    assert rated["retired"] == 0 and even["retired"] > 600
    # Weights: liked 2*5/6 = 1.67, plain 1, mixed 2*3/5 = 1.2 (of 3.87 in all).
    assert rated["liked"] > rated["mixed"] > rated["plain"]
    assert abs(rated["liked"] / PICKS - 1.667 / 3.867) < 0.03
    assert rated["liked"] > even["liked"] * 1.5


async def test_a_server_with_enough_votes_of_its_own_decides_for_itself(ratings: Ratings) -> None:
    await rate_game(ratings, "d1", "split", [DOWN, DOWN, DOWN, DOWN], guild_id=OTHER_GUILD)
    ours = (await ratings.of(GUILD, ["split"]))["split"]
    assert weight(ours, ratings.config) == 0  # the other server's votes decide while ours are too few
    await rate_game(ratings, "d2", "split", [UP, UP, UP])
    ours = (await ratings.of(GUILD, ["split"]))["split"]
    assert ours.here == Tally(3, 0) and ours.overall == Tally(3, 4)
    assert weight(ours, ratings.config) == pytest.approx(2 * 4 / 5)  # now our three votes decide


def test_nothing_rated_picks_exactly_as_before() -> None:
    bank = PuzzleBank([puzzle(name) for name in "abcdef"])
    config = RatingsConfig()
    unrated = {p.id: weight(PuzzleRating(Tally(), Tally()), config) for p in bank.by_language["en"]}
    first, second = random.Random(5), random.Random(5)
    assert [bank.pick("en", rng=first, weights=unrated).id for _ in range(50)] == [
        bank.pick("en", rng=second).id for _ in range(50)
    ]
