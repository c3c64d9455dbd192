"""Scores and leaderboards per server: applying ended games' tallies, ranking, and the expiry sweep.

Score rule (stated in the README): +3 for solving a puzzle, +1 for each key fact a player's question
uncovered, -1 for each hint a player asked for. Per player and per server we also count questions
asked, hints used and games played (a player played a game they started, asked in, found a fact in,
used a hint in or solved).

Keys: everything of a guild shares the hash tag `{g<guild>}`, so each script below touches one slot on
Redis Cluster. A channel's game lives under `{ch<channel>}`, another slot: its end is recorded there
(bot/game/tally.py), and applying that tally here is idempotent, keyed by the game's id.

Expiry: a game nobody touches would vanish with its keys' TTL, tally and all. Each started game is
noted in its guild's `live` sorted set, scored by the time it must be looked at; a periodic sweep takes
the due ones (ZRANGEBYSCORE: logarithmic), and a game idle for the TTL less a margin is ended as
"expired" by a channel-slot script, which records its tally like every other end. A game still in use
is simply re-scored by its last activity, so questions cost no extra round trip.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from bot.game.store import Game
from bot.game.tally import OUTBOX_KEEP_SECONDS, RECORD_END_LUA, found_key, outbox_key

log = logging.getLogger(__name__)

SOLVE_POINTS, FACT_POINTS, HINT_POINTS = 3, 1, -1
BOARD_SIZE = 10
WEEK_KEEP_SECONDS = 5 * 7 * 86400  # a weekly board outlives its week by a month
# A counted game's marker outlives any outbox entry (those older are refused), so a late redelivery
# can never count a game twice.
COUNTED_KEEP_SECONDS = 3 * OUTBOX_KEEP_SECONDS
STALE_AFTER_SECONDS = 2 * OUTBOX_KEEP_SECONDS
# An idle game is ended by the sweep this long before its keys would expire (at most a quarter of the TTL).
EXPIRY_MARGIN_SECONDS = 6 * 3600
SWEEP_BATCH = 100
STAT_FIELDS = ("score", "solves", "facts", "questions", "hints", "games")

Period = Literal["week", "all"]

# KEYS: counted marker, totals, all-time board, weekly board, live games, then one stats hash per player.
# ARGV: marker TTL, week TTL, tally JSON {"totals": {...}, "players": [[id, {...}], ...]}, live member.
_APPLY = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('ZREM', KEYS[5], ARGV[4])
  return 0
end
local tally = cjson.decode(ARGV[3])
for name, by in pairs(tally['totals']) do redis.call('HINCRBY', KEYS[2], name, by) end
for index, player in ipairs(tally['players']) do
  local id, deltas = player[1], player[2]
  for name, by in pairs(deltas) do redis.call('HINCRBY', KEYS[5 + index], name, by) end
  redis.call('ZINCRBY', KEYS[3], deltas['score'], id)
  redis.call('ZINCRBY', KEYS[4], deltas['score'], id)
end
redis.call('EXPIRE', KEYS[4], ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[4])
return 1
"""

# In the channel's slot: end the game `ARGV[1]` as expired if it has been idle since before ARGV[3].
# Answers {state, updated_at}: 'expired', 'active' (in use: look again later), 'ended' or 'gone'.
_EXPIRE = (
    RECORD_END_LUA
    + """
if redis.call('HGET', KEYS[1], 'game_id') ~= ARGV[1] then return {'gone', ''} end
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return {'ended', ''} end
local updated = redis.call('HGET', KEYS[1], 'updated_at') or '0'
if tonumber(updated) > tonumber(ARGV[3]) then return {'active', updated} end
redis.call('HSET', KEYS[1], 'status', 'stopped', 'ended_at', ARGV[2], 'ended_reason', 'expired')
record_end(KEYS[1], KEYS[2], KEYS[3], 'stopped', 'expired', ARGV[2], ARGV[4])
return {'expired', updated}
"""
)


def iso_week(at: float) -> str:
    year, week, _ = datetime.fromtimestamp(at, UTC).isocalendar()
    return f"{year}-W{week:02d}"


def player_deltas(counts: dict[str, int]) -> dict[str, int]:
    """One player's share of one game: the stats it adds and its points under the score rule."""
    solves, facts, hints = counts.get("solved", 0), counts.get("facts", 0), counts.get("hints", 0)
    return {
        "score": SOLVE_POINTS * solves + FACT_POINTS * facts + HINT_POINTS * hints,
        "solves": solves,
        "facts": facts,
        "questions": counts.get("asked", 0),
        "hints": hints,
        "games": 1,
    }


def game_totals(record: dict[str, Any]) -> dict[str, int]:
    """What one ended game adds to its server's totals (`ended_<reason>` counts how games end)."""
    return {
        "games": 1,
        "solves": int(record["status"] == "solved"),
        "facts": int(record.get("facts", 0)),
        "questions": int(record.get("questions", 0)),
        "hints": int(record.get("hints", 0)),
        f"ended_{record.get('reason') or record['status']}": 1,
    }


@dataclass(frozen=True, slots=True)
class Board:
    period: Period
    label: str  # "all" or the ISO week, e.g. "2025-W07"
    top: list[tuple[int, int]]  # (player, points), best first
    rank: int | None  # the caller's, 1-based; None when not on the board
    points: int | None
    totals: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlayerStats:
    player_id: int
    stats: dict[str, int]
    rank: int | None
    week_points: int | None
    week_rank: int | None


@dataclass(frozen=True, slots=True)
class SweepResult:
    expired: int = 0
    rescheduled: int = 0
    settled: int = 0  # already ended or gone: their tallies (if any) delivered


class ScoreKeeper:
    """Applies ended games to their servers' scores (a GameStore's `events`) and answers board queries."""

    def __init__(self, client: aioredis.Redis | RedisCluster, prefix: str, game_ttl: int) -> None:
        self.redis = client
        self.prefix = prefix
        self.idle_limit = game_ttl - min(EXPIRY_MARGIN_SECONDS, game_ttl / 4)
        self._apply = client.register_script(_APPLY)
        self._expire = client.register_script(_EXPIRE)

    # -- keys ------------------------------------------------------------------------

    def _tag(self, guild_id: int | str) -> str:
        return f"{self.prefix}:{{g{guild_id}}}"

    def board_key(self, guild_id: int | str, period: Period, at: float | None = None) -> str:
        if period == "all":
            return f"{self._tag(guild_id)}:board:all"
        return f"{self._tag(guild_id)}:board:week:{iso_week(time.time() if at is None else at)}"

    def player_key(self, guild_id: int | str, player_id: int | str) -> str:
        return f"{self._tag(guild_id)}:player:{player_id}"

    def totals_key(self, guild_id: int | str) -> str:
        return f"{self._tag(guild_id)}:totals"

    def live_key(self, guild_id: int | str) -> str:
        return f"{self._tag(guild_id)}:live"

    def counted_key(self, guild_id: int | str, game_id: str) -> str:
        return f"{self._tag(guild_id)}:counted:{game_id}"

    # -- counting (GameEvents) -------------------------------------------------------

    async def started(self, game: Game) -> None:
        """Note a new game for the expiry sweep."""
        if game.guild_id is not None:
            member = f"{game.channel_id}:{game.game_id}"
            await self.redis.zadd(self.live_key(game.guild_id), {member: game.started_at + self.idle_limit})

    async def ended(self, channel_id: int) -> None:
        await self.deliver(channel_id)

    async def deliver(self, channel_id: int) -> int:
        """Apply every tally waiting in the channel's outbox; each entry is removed only once applied.
        Answers how many games this call counted (0 for ones another process or a retry counted first)."""
        key = outbox_key(self.prefix, channel_id)
        waiting = await self.redis.hgetall(key)
        counted = 0
        for game_id, raw in waiting.items():
            counted += await self.apply(channel_id, json.loads(raw))
            await self.redis.hdel(key, game_id)
        return counted

    async def apply(self, channel_id: int, record: dict[str, Any]) -> bool:
        """Add one ended game to its server's scores, once: a second call for the same game changes nothing."""
        guild_id, game_id = record.get("guild") or "", record["game"]
        if not guild_id:
            return False  # a game outside any server (terminal play) is not scored
        ended_at = float(record.get("ended_at") or time.time())
        if time.time() - ended_at > STALE_AFTER_SECONDS:
            log.warning("game %s ended too long ago to count safely; dropped", game_id)
            return False
        players = sorted(record.get("players", {}).items())
        tally = {"totals": game_totals(record), "players": [[pid, player_deltas(c)] for pid, c in players]}
        keys = [
            self.counted_key(guild_id, game_id),
            self.totals_key(guild_id),
            self.board_key(guild_id, "all"),
            self.board_key(guild_id, "week", ended_at),
            self.live_key(guild_id),
            *(self.player_key(guild_id, pid) for pid, _ in players),
        ]
        args = [COUNTED_KEEP_SECONDS, WEEK_KEEP_SECONDS, json.dumps(tally), f"{channel_id}:{game_id}"]
        applied = bool(await self._apply(keys=keys, args=args))
        if applied:
            log.info("counted game %s in guild %s (%s)", game_id, guild_id, record.get("reason"))
        return applied

    # -- expiry ----------------------------------------------------------------------

    async def sweep(self, guild_ids: list[int], now: float | None = None) -> SweepResult:
        """End the idle games of these servers as expired and count them; re-score games still in use."""
        now = time.time() if now is None else now
        expired = rescheduled = settled = 0
        for guild_id in guild_ids:
            live = self.live_key(guild_id)
            for member in await self.redis.zrangebyscore(live, "-inf", now, start=0, num=SWEEP_BATCH):
                channel, game_id = member.split(":", 1)
                channel_id = int(channel)
                state, updated = await self._expire(
                    keys=[self._game_key(channel_id), *self._tally_keys(channel_id)],
                    args=[game_id, repr(now), repr(now - self.idle_limit), OUTBOX_KEEP_SECONDS],
                )
                if state == "active":
                    await self.redis.zadd(live, {member: float(updated) + self.idle_limit}, xx=True)
                    rescheduled += 1
                    continue
                expired += state == "expired"
                settled += state != "expired"
                await self.deliver(channel_id)
                await self.redis.zrem(live, member)  # a game whose keys vanished uncounted leaves here too
        return SweepResult(expired, rescheduled, settled)

    def _game_key(self, channel_id: int) -> str:
        return f"{self.prefix}:{{ch{channel_id}}}:game"

    def _tally_keys(self, channel_id: int) -> list[str]:
        return [found_key(self.prefix, channel_id), outbox_key(self.prefix, channel_id)]

    # -- queries ---------------------------------------------------------------------

    async def board(self, guild_id: int, period: Period, caller: int, now: float | None = None) -> Board:
        """The top players and the caller's own place, in one round trip (ZREVRANGE, ZREVRANK: logarithmic)."""
        at = time.time() if now is None else now
        key = self.board_key(guild_id, period, at)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrange(key, 0, BOARD_SIZE - 1, withscores=True)
            pipe.zrevrank(key, str(caller))
            pipe.zscore(key, str(caller))
            pipe.hgetall(self.totals_key(guild_id))
            top, rank, points, totals = await pipe.execute()
        return Board(
            period=period,
            label="all" if period == "all" else iso_week(at),
            top=[(int(member), int(score)) for member, score in top],
            rank=None if rank is None else rank + 1,
            points=None if points is None else int(points),
            totals={name: int(value) for name, value in totals.items()},
        )

    async def stats(self, guild_id: int, player_id: int, now: float | None = None) -> PlayerStats:
        at = time.time() if now is None else now
        week = self.board_key(guild_id, "week", at)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.player_key(guild_id, player_id))
            pipe.zrevrank(self.board_key(guild_id, "all"), str(player_id))
            pipe.zscore(week, str(player_id))
            pipe.zrevrank(week, str(player_id))
            stats, rank, week_points, week_rank = await pipe.execute()
        return PlayerStats(
            player_id=player_id,
            stats={name: int(stats.get(name, 0)) for name in STAT_FIELDS},
            rank=None if rank is None else rank + 1,
            week_points=None if week_points is None else int(week_points),
            week_rank=None if week_rank is None else week_rank + 1,
        )
