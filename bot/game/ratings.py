"""Puzzle ratings: a ballot for each revealed game, 👍/👎 votes counted once, tallies per server and
overall, and the weights /play picks puzzles by. No Discord here.

Every rating key shares one hash tag, `{ratings}`, so a vote (the ballot, the server's tally and the
overall tally) changes in one atomic script, on a single Redis and on a Redis Cluster alike. Votes are
rare (a few per game), so one slot is no hot spot.

Keys (under the configured prefix):
- `{ratings}:ballot:<game id>`: who may vote on that game (`p:<player>`), their votes (`v:<player>`) and
  the puzzle, server, title and language; it expires when the rating window closes.
- `{ratings}:g<guild id>` and `{ratings}:all`: `up:<puzzle id>` and `down:<puzzle id>` counts.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from bot.game.puzzles import Puzzle
from bot.game.store import Game
from common.config import RatingsConfig

UP, DOWN = "up", "down"
VOTES = (UP, DOWN)
# Game ids are 12 hex digits (bot.game.store); anything else on a button is not ours.
GAME_ID = re.compile(r"[0-9a-f]{1,32}")

# KEYS[1] the ballot; ARGV: window seconds, puzzle, guild, title, language, then the players. A ballot
# already open is left as it is (its votes kept), so opening twice changes nothing.
_OPEN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'puzzle', ARGV[2], 'guild', ARGV[3], 'title', ARGV[4], 'language', ARGV[5])
for i = 6, #ARGV do redis.call('HSET', KEYS[1], 'p:' .. ARGV[i], '1') end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""

# KEYS[1] the ballot, KEYS[2] the server's tally, KEYS[3] the overall tally; ARGV[1] the player, ARGV[2]
# the vote, ARGV[3] the server the click came from. A player's vote replaces their earlier one in the
# same script that moves the counts, so no click, retry or second process counts twice.
_VOTE = """
if ARGV[2] ~= 'up' and ARGV[2] ~= 'down' then return {'closed'} end
local puzzle = redis.call('HGET', KEYS[1], 'puzzle')
if not puzzle or redis.call('HGET', KEYS[1], 'guild') ~= ARGV[3] then return {'closed'} end
local title = redis.call('HGET', KEYS[1], 'title') or ''
local language = redis.call('HGET', KEYS[1], 'language') or 'en'
if redis.call('HEXISTS', KEYS[1], 'p:' .. ARGV[1]) == 0 then return {'not_player', '', title, language} end
local before = redis.call('HGET', KEYS[1], 'v:' .. ARGV[1]) or ''
local result = 'counted'
if before == ARGV[2] then
  result = 'same'
else
  if before ~= '' then
    result = 'changed'
    redis.call('HINCRBY', KEYS[2], before .. ':' .. puzzle, -1)
    redis.call('HINCRBY', KEYS[3], before .. ':' .. puzzle, -1)
  end
  redis.call('HINCRBY', KEYS[2], ARGV[2] .. ':' .. puzzle, 1)
  redis.call('HINCRBY', KEYS[3], ARGV[2] .. ':' .. puzzle, 1)
  redis.call('HSET', KEYS[1], 'v:' .. ARGV[1], ARGV[2])
end
local up = redis.call('HGET', KEYS[2], 'up:' .. puzzle) or '0'
local down = redis.call('HGET', KEYS[2], 'down:' .. puzzle) or '0'
return {result, ARGV[2], title, language, up, down}
"""


class VoteResult(enum.StrEnum):
    COUNTED = "counted"  # a first vote
    CHANGED = "changed"  # replaced the player's other vote
    SAME = "same"  # the player had already voted so: nothing changed
    NOT_PLAYER = "not_player"  # the clicker asked no question in that game
    CLOSED = "closed"  # no such ballot: the window closed, the game is unknown, or the button is not ours


@dataclass(frozen=True, slots=True)
class Tally:
    up: int = 0
    down: int = 0

    @property
    def votes(self) -> int:
        return self.up + self.down

    @property
    def liked(self) -> float:
        """The share of 👍, smoothed by one vote each way: 0.5 with no votes, never exactly 0 or 1."""
        return (self.up + 1) / (self.votes + 2)


@dataclass(frozen=True, slots=True)
class PuzzleRating:
    here: Tally  # this server's votes
    overall: Tally  # every server's votes (this one's included)


NO_RATING = PuzzleRating(Tally(), Tally())


@dataclass(frozen=True, slots=True)
class Vote:
    result: VoteResult
    vote: str = ""  # the player's vote as it now stands
    title: str = ""
    language: str = "en"
    here: Tally = Tally()  # the puzzle's tally in this server after the vote


def players_of(game: Game) -> set[int]:
    """Who played a game: everyone with a question the host answered and stored in it (its solver too)."""
    players = set(game.askers) | {exchange.user_id for exchange in game.transcript}
    if game.solver is not None:
        players.add(game.solver)
    return players


def deciding(rating: PuzzleRating, min_votes: int) -> Tally:
    """The votes that judge a puzzle in a server: its own once it has `min_votes`, every server's before."""
    return rating.here if rating.here.votes >= min_votes else rating.overall


def weight(rating: PuzzleRating, config: RatingsConfig) -> float:
    """How much more (or less) often /play picks a puzzle than an unrated one (weight 1).

    0 when it is retired: at least `min_votes` votes decide and fewer than `retire_below` of them are 👍.
    Otherwise (2 × smoothed 👍 share) ** favour: from 1 unrated towards 2 when all like it (favour 1),
    towards 0 when none do."""
    tally = deciding(rating, config.min_votes)
    if tally.votes >= config.min_votes and tally.up / tally.votes < config.retire_below:
        return 0.0
    return float((2 * tally.liked) ** config.favour)


def ranking(ratings: Mapping[str, PuzzleRating], min_votes: int) -> list[str]:
    """Rated puzzle ids, best first: by the votes that decide in this server, then by every server's,
    then by how many voted."""

    def key(puzzle_id: str) -> tuple[float, float, int, str]:
        rating = ratings[puzzle_id]
        return (-deciding(rating, min_votes).liked, -rating.overall.liked, -rating.overall.votes, puzzle_id)

    return sorted((pid for pid, rating in ratings.items() if rating.overall.votes or rating.here.votes), key=key)


class Ratings:
    def __init__(self, client: aioredis.Redis | RedisCluster, prefix: str, config: RatingsConfig) -> None:
        self.redis = client
        self.config = config
        self.tag = f"{prefix}:{{ratings}}"
        self._open = client.register_script(_OPEN)
        self._vote = client.register_script(_VOTE)

    @property
    def window_seconds(self) -> int:
        return max(int(self.config.window_hours * 3600), 1)

    def ballot_key(self, game_id: str) -> str:
        return f"{self.tag}:ballot:{game_id}"

    def tally_key(self, guild_id: int | None) -> str:
        """A server's tally, or every server's (None)."""
        return f"{self.tag}:all" if guild_id is None else f"{self.tag}:g{guild_id}"

    async def open_ballot(self, game: Game, players: Collection[int]) -> bool:
        """Let `players` rate the revealed `game` for the rating window; False when it was open already."""
        args = [self.window_seconds, game.puzzle_id, str(game.guild_id or ""), game.title, game.language]
        opened = await self._open(keys=[self.ballot_key(game.game_id)], args=[*args, *map(str, sorted(players))])
        return bool(opened)

    async def vote(self, game_id: str, guild_id: int, player_id: int, vote: str) -> Vote:
        """Count `player_id`'s vote on `game_id`; what came of it. Anything malformed is CLOSED, unread."""
        if not GAME_ID.fullmatch(game_id) or vote not in VOTES:
            return Vote(VoteResult.CLOSED)
        keys = [self.ballot_key(game_id), self.tally_key(guild_id), self.tally_key(None)]
        reply = await self._vote(keys=keys, args=[str(player_id), vote, str(guild_id)])
        result = VoteResult(reply[0])
        if result is VoteResult.CLOSED:
            return Vote(result)
        if result is VoteResult.NOT_PLAYER:
            return Vote(result, "", reply[2], reply[3])
        return Vote(result, reply[1], reply[2], reply[3], Tally(int(reply[4]), int(reply[5])))

    async def of(self, guild_id: int, puzzle_ids: Sequence[str]) -> dict[str, PuzzleRating]:
        """These puzzles' ratings in a server and overall (one round trip)."""
        if not puzzle_ids:
            return {}
        fields = [f"{vote}:{puzzle_id}" for puzzle_id in puzzle_ids for vote in VOTES]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.tally_key(guild_id), fields)
            pipe.hmget(self.tally_key(None), fields)
            here, overall = await pipe.execute()
        return {
            puzzle_id: PuzzleRating(_tally(here, index), _tally(overall, index))
            for index, puzzle_id in enumerate(puzzle_ids)
        }

    async def weights(self, guild_id: int | None, puzzles: Iterable[Puzzle]) -> dict[str, float] | None:
        """Picking weights by puzzle id (None: nothing rated, pick evenly)."""
        if guild_id is None:
            return None
        ids = [puzzle.id for puzzle in puzzles]
        ratings = await self.of(guild_id, ids)
        if not any(rating.overall.votes for rating in ratings.values()):
            return None
        return {puzzle_id: weight(rating, self.config) for puzzle_id, rating in ratings.items()}


def _tally(counts: list[str | None], index: int) -> Tally:
    up, down = counts[2 * index], counts[2 * index + 1]
    return Tally(max(int(up or 0), 0), max(int(down or 0), 0))
