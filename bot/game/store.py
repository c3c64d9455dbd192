"""Game state in Redis: one game per channel, changed only by atomic scripts.

Every key of a channel shares one hash tag, `{ch<id>}`, so the scripts run unchanged on
Redis Cluster. Every key gets a TTL, renewed on each write, so abandoned games expire.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from bot.game.facts import FoundFact, decode_found
from bot.game.puzzles import DEFAULT_DIFFICULTY
from bot.game.tally import OUTBOX_KEEP_SECONDS, RECORD_END_LUA, found_key, outbox_key

log = logging.getLogger(__name__)

ACTIVE, SOLVED, STOPPED = "active", "solved", "stopped"

# Start a game unless one is active ("play"), or replace the game the caller saw ("new"). An active game
# replaced leaves its tally (KEYS[4], KEYS[5]: found facts, outbox); the third value says so.
_START = (
    RECORD_END_LUA
    + """
local current = redis.call('HGET', KEYS[1], 'game_id') or ''
local status = redis.call('HGET', KEYS[1], 'status') or ''
if ARGV[1] == 'play' and status == 'active' then return {0, redis.call('HGETALL', KEYS[1])} end
-- A game that expired since the caller saw it ('' now) no longer stands in the way.
if ARGV[1] == 'new' and current ~= ARGV[2] and current ~= '' then return {0, redis.call('HGETALL', KEYS[1])} end
if status == 'active' then
  record_end(KEYS[1], KEYS[4], KEYS[5], 'stopped', 'replaced', ARGV[6], ARGV[7])
end
redis.call('DEL', KEYS[1], KEYS[2])
if KEYS[4] then redis.call('DEL', KEYS[4]) end  -- the last game's found key facts
local fields = cjson.decode(ARGV[3])
for name, value in pairs(fields) do redis.call('HSET', KEYS[1], name, value) end
redis.call('LREM', KEYS[3], 0, fields['puzzle_id'])
redis.call('LPUSH', KEYS[3], fields['puzzle_id'])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return {1, redis.call('HGETALL', KEYS[1]), status}
"""
)

# Replies being streamed, one marker each in the channel's `replies` hash (message id -> JSON with
# its owner, the process that streams it), noted only in the game it belongs to (never recreating an
# expired game's hash without its fields or TTL). Only the owner clears a marker.
_MARK = """
if redis.call('HGET', KEYS[1], 'game_id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

_CLEAR_OWN = """
local function clear_own(key, message_id, owner)
  if message_id == '' then return 0 end
  local marker = redis.call('HGET', key, message_id)
  if not marker or cjson.decode(marker)['owner'] ~= owner then return 0 end
  return redis.call('HDEL', key, message_id)
end
"""

_CLEAR = _CLEAR_OWN + "return clear_own(KEYS[1], ARGV[1], ARGV[2])"

# Take (read and remove at once) the markers of these shards, so that two starting processes
# never both take one.
_TAKE = """
local wanted = cjson.decode(ARGV[1])
local markers = redis.call('HGETALL', KEYS[1])
local taken = {}
for i = 1, #markers, 2 do
  if wanted[tostring(cjson.decode(markers[i + 1])['shard'])] then
    redis.call('HDEL', KEYS[1], markers[i])
    table.insert(taken, markers[i])
    table.insert(taken, markers[i + 1])
  end
end
return taken
"""

# Store one whole exchange, only into the game it was asked in, and only while that game is active.
# The reply's own streaming marker is cleared in the same script, whether or not it is stored.
# The key facts it found (ARGV[11], index -> record) go into the found hash with it, the first finder
# keeping each; a solve credits every fact still unfound (ARGV[13] facts) to the solver (ARGV[12]),
# then leaves the game's tally in the outbox (KEYS[5]) with those facts counted. Answers the found
# hash as it now is. A game at its question limit (max_questions) takes no more: answers -1, so two
# processes answering at once cannot both store the last allowed question.
_APPEND = (
    _CLEAR_OWN
    + RECORD_END_LUA
    + """
clear_own(KEYS[3], ARGV[7], ARGV[8])
-- One read of the four fields (a missing one is false).
local game = redis.call('HMGET', KEYS[1], 'game_id', 'status', 'max_questions', 'questions')
if game[1] ~= ARGV[1] then return 0 end
if game[2] ~= 'active' then return 0 end
local most = tonumber(game[3] or '')
if most and tonumber(game[4] or '0') >= most then return -1 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
redis.call('HINCRBY', KEYS[1], 'questions', 1)
redis.call('HINCRBY', KEYS[1], 'asked:' .. ARGV[9], 1)
redis.call('HSET', KEYS[1], 'updated_at', ARGV[6])
if ARGV[11] ~= '' then
  for index, record in pairs(cjson.decode(ARGV[11])) do redis.call('HSETNX', KEYS[4], index, record) end
end
if ARGV[5] ~= '' then
  if ARGV[12] ~= '' then
    for index = 0, tonumber(ARGV[13]) - 1 do redis.call('HSETNX', KEYS[4], tostring(index), ARGV[12]) end
  end
  redis.call('HSET', KEYS[1], 'status', 'solved', 'solver', ARGV[5], 'ended_at', ARGV[6])
  record_end(KEYS[1], KEYS[4], KEYS[5], 'solved', 'solved', ARGV[6], ARGV[10])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[4], ARGV[4])  -- no found facts yet: no key, nothing done
return {1, redis.call('HGETALL', KEYS[4])}
"""
)

# End the active game as stopped, only if it is the game the caller saw (ARGV[3]; '' for any), noting
# why (ARGV[5], e.g. a limit reached; '' for a player's /stop), and leave its tally in the outbox;
# answer the game as it now is.
_STOP = (
    RECORD_END_LUA
    + """
local current = redis.call('HGET', KEYS[1], 'game_id') or ''
if redis.call('HGET', KEYS[1], 'status') == 'active' and (ARGV[3] == '' or current == ARGV[3]) then
  redis.call('HSET', KEYS[1], 'status', 'stopped', 'ended_at', ARGV[1])
  if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'stopped_by', ARGV[2]) end
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'ended_reason', ARGV[5]) end
  local reason = 'stopped'
  if ARGV[5] ~= '' then reason = ARGV[5] end
  record_end(KEYS[1], KEYS[2], KEYS[3], 'stopped', reason, ARGV[1], ARGV[4])
  return {1, redis.call('HGETALL', KEYS[1])}
end
return {0, redis.call('HGETALL', KEYS[1])}
"""
)


class OutOfQuestions(Exception):
    """The game already holds its `max_questions` exchanges: this one was not stored."""


@dataclass(slots=True)
class Exchange:
    """One question and its answer, stored compactly: a game keeps dozens of these."""

    question: str
    reply: str
    verdict: str
    user_id: int
    at: float
    facts: tuple[int, ...] = ()  # the key facts its reply's facts line named (0-based), when it counted
    appealed_from: str = ""  # the verdict before an appeal (bot/game/appeals.py); "" when never appealed

    def encode(self) -> str:
        data: dict[str, Any] = {"q": self.question, "r": self.reply, "v": self.verdict, "u": self.user_id}
        data["t"] = int(self.at)
        if self.facts:
            data["f"] = list(self.facts)
        if self.appealed_from:
            data["a"] = self.appealed_from
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> Exchange:
        data = json.loads(raw)
        return cls(data["q"], data["r"], data["v"], data["u"], data["t"], tuple(data.get("f", ())), data.get("a", ""))


@dataclass(slots=True)
class Game:
    game_id: str
    channel_id: int
    puzzle_id: str
    language: str
    title: str
    story: str
    answer: str
    status: str
    started_by: int
    started_at: float
    questions: int = 0
    solver: int | None = None
    ended_at: float | None = None
    stopped_by: int | None = None
    transcript: list[Exchange] = field(default_factory=list)
    guild_id: int | None = None
    key_facts: tuple[str, ...] = ()  # copied from the puzzle at start; () when it has none
    difficulty: str = DEFAULT_DIFFICULTY
    found: dict[int, FoundFact] = field(default_factory=dict)  # 0-based key fact -> who found it
    hints: tuple[str, ...] = ()  # the puzzle's stored hints, copied at start
    hints_used: int = 0
    max_hints: int | None = None  # None: a game started before hints were counted (the config's number applies)
    max_questions: int | None = None
    time_limit: float | None = None  # seconds
    ended_reason: str = ""  # why a stopped game ended when no player stopped it ("question_limit", "time_limit")
    askers: frozenset[int] = frozenset()  # players with a stored question (the `asked:<id>` counters)
    appeals: int = 0  # verdicts contested (bot/game/appeals.py), and how many of them the appeal changed
    appeals_changed: int = 0

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def unfound(self) -> list[int]:
        """The key facts (0-based) nobody has found yet."""
        return [index for index in range(len(self.key_facts)) if index not in self.found]

    @property
    def progress(self) -> tuple[int, int]:
        """(found, total) key facts."""
        return len(self.found), len(self.key_facts)

    @classmethod
    def from_hash(cls, channel_id: int, data: dict[str, str]) -> Game:
        return cls(
            game_id=data["game_id"],
            channel_id=channel_id,
            puzzle_id=data["puzzle_id"],
            language=data["language"],
            title=data["title"],
            story=data["story"],
            answer=data["answer"],
            status=data["status"],
            started_by=int(data["started_by"]),
            started_at=float(data["started_at"]),
            questions=int(data.get("questions", 0)),
            solver=_optional_int(data.get("solver")),
            ended_at=_optional_float(data.get("ended_at")),
            stopped_by=_optional_int(data.get("stopped_by")),
            guild_id=_optional_int(data.get("guild_id")),
            key_facts=_key_facts(data.get("key_facts")),
            difficulty=data.get("difficulty") or DEFAULT_DIFFICULTY,
            hints=_texts(data.get("hints")),
            hints_used=int(data.get("hints_used", 0)),
            max_hints=_optional_int(data.get("max_hints")),
            max_questions=_optional_int(data.get("max_questions")),
            time_limit=_optional_float(data.get("time_limit")),
            ended_reason=data.get("ended_reason", ""),
            askers=_askers(data),
            appeals=int(data.get("appeals", 0)),
            appeals_changed=int(data.get("appeals_changed", 0)),
        )


def _askers(data: dict[str, str]) -> frozenset[int]:
    return frozenset(int(name[6:]) for name in data if name.startswith("asked:") and name[6:].isdigit())


def _key_facts(value: str | None) -> tuple[str, ...]:
    """The stored JSON list; a game stored before key facts existed (or a bad value) has none."""
    if not value:
        return ()
    try:
        facts = json.loads(value)
    except ValueError:
        return ()
    return tuple(fact for fact in facts if isinstance(fact, str)) if isinstance(facts, list) else ()


def _optional_int(value: str | None) -> int | None:
    return int(value) if value else None


def _optional_float(value: str | None) -> float | None:
    return float(value) if value else None


class GameEvents(Protocol):
    """Told of each game started and of each channel where a game just ended (the score keeper)."""

    async def started(self, game: Game) -> None: ...

    async def ended(self, channel_id: int) -> None: ...


def _texts(value: str | None) -> tuple[str, ...]:
    return tuple(json.loads(value)) if value else ()


@dataclass(frozen=True, slots=True)
class StartResult:
    created: bool
    game: Game
    # The status of the game it replaced: "active" (this start ended it), "solved" or "stopped" (ended by
    # someone else meanwhile), "" (none, or expired).
    replaced_status: str = ""


class GameStore:
    def __init__(
        self, client: aioredis.Redis | RedisCluster, prefix: str, ttl_seconds: int, transcript_cap: int, recent_cap: int
    ) -> None:
        self.redis = client
        self.prefix = prefix
        self.ttl = max(int(ttl_seconds), 1)
        self.transcript_cap = transcript_cap
        self.recent_cap = max(recent_cap, 1)
        self._start = client.register_script(_START)
        self._append = client.register_script(_APPEND)
        self._stop = client.register_script(_STOP)
        self._mark = client.register_script(_MARK)
        self._clear = client.register_script(_CLEAR)
        self._take = client.register_script(_TAKE)
        # This process, as the owner of the markers it writes, and the reply it streams in each channel
        # (one at a time: questions in a channel are answered in turn).
        self.owner = uuid.uuid4().hex[:12]
        self._marked: dict[int, str] = {}
        self.events: GameEvents | None = None

    def keys(self, channel_id: int) -> tuple[str, str, str]:
        tag = f"{self.prefix}:{{ch{channel_id}}}"
        return f"{tag}:game", f"{tag}:log", f"{tag}:recent"

    def found_key(self, channel_id: int) -> str:
        """The game's found key facts (0-based index -> JSON record), in the same hash slot as its game."""
        return found_key(self.prefix, channel_id)

    def replies_key(self, channel_id: int) -> str:
        """The channel's streaming markers, in the same hash slot as its game."""
        return f"{self.prefix}:{{ch{channel_id}}}:replies"

    def tally_keys(self, channel_id: int) -> list[str]:
        """The found facts and the outbox an ending game's tally is read from and written to."""
        return [found_key(self.prefix, channel_id), outbox_key(self.prefix, channel_id)]

    async def _tell(self, event: str, subject: Any) -> None:
        """Best effort: a failure leaves the tally in the outbox, for the keeper's sweep."""
        if self.events is None:
            return
        try:
            await getattr(self.events, event)(subject)
        except redis.exceptions.RedisError as error:
            log.warning("could not count the game event %s for %s: %s", event, subject, error)

    async def load(
        self,
        channel_id: int,
        with_transcript: bool = True,
        *,
        with_found: bool = True,
        marking: tuple[Game, int, int] | None = None,
    ) -> Game | None:
        """The channel's current game (active or ended), in one round trip. ``marking`` (the game a reply
        belongs to, its shard and message id): note that reply as streaming (`mark_streaming`) in the same
        round trip, when that game is still the channel's."""
        game_key, log_key, _ = self.keys(channel_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            if marking is not None:
                pipe.evalsha(self._mark.sha, 2, *self._mark_keys_and_args(*marking))
            pipe.hgetall(game_key)
            if with_found:
                pipe.hgetall(self.found_key(channel_id))
            if with_transcript:
                pipe.lrange(log_key, 0, -1)
            results = await pipe.execute(raise_on_error=False)
        if marking is not None:
            marked, *results = results
            if isinstance(marked, redis.exceptions.NoScriptError):  # a Redis that has not seen it yet: load it
                marked = await self._mark(**self._mark_keys_and_args(*marking, split=True))
            if isinstance(marked, Exception):
                raise marked
            if marked == 1:
                self._marked[channel_id] = str(marking[2])
        for result in results:
            if isinstance(result, Exception):
                raise result
        if not results[0]:
            return None
        game = Game.from_hash(channel_id, results[0])
        if with_found:
            game.found = decode_found(results[1], len(game.key_facts))
        if with_transcript:
            game.transcript = [Exchange.decode(raw) for raw in results[-1]]
        return game

    async def load_with_recent(self, channel_id: int) -> tuple[Game | None, list[str]]:
        game_key, _, recent_key = self.keys(channel_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(game_key)
            pipe.lrange(recent_key, 0, self.recent_cap - 1)
            data, recent = await pipe.execute()
        return (Game.from_hash(channel_id, data) if data else None), list(recent)

    async def start(self, channel_id: int, fields: dict[str, Any], replacing: str | None = None) -> StartResult:
        """Create a game atomically.

        replacing=None: only when no game is active (racing /play calls create one game).
        replacing=<game id or "">: only when the current game is still that one (racing /newgame).
        """
        game_id = uuid.uuid4().hex[:12]
        now = time.time()
        record = {
            **fields,
            "game_id": game_id,
            "status": ACTIVE,
            "started_at": repr(now),
            "updated_at": repr(now),
            "questions": "0",
        }
        mode = "play" if replacing is None else "new"
        created, flat, *replaced = await self._start(
            keys=[*self.keys(channel_id), *self.tally_keys(channel_id)],
            args=[
                mode,
                replacing or "",
                json.dumps(record, ensure_ascii=False),
                self.ttl,
                self.recent_cap,
                repr(now),
                OUTBOX_KEEP_SECONDS,
            ],
        )
        replaced_status = str(replaced[0]) if replaced else ""
        result = StartResult(bool(created), Game.from_hash(channel_id, hash_pairs(flat)), replaced_status)
        if result.replaced_status == ACTIVE:
            await self._tell("ended", channel_id)
        if result.created:
            await self._tell("started", result.game)
        return result

    async def append(
        self,
        game: Game,
        exchange: Exchange,
        solved_by: int | None = None,
        found: Iterable[int] = (),
        finder: str = "",
    ) -> bool:
        """Store one exchange in `game`; False when that game is no longer the channel's active one,
        OutOfQuestions when it has reached its question limit (another process stored the last one).
        Either way, the marker of the reply this process streams in that channel is cleared.

        With it, atomically: the key facts (0-based) it `found`, credited to its asker (`finder` is
        their display name; the first finder keeps each) and, for a solve, every fact still unfound
        credited to the solver. When stored, `game.found` is the found set as it now is in Redis."""
        game_key, log_key, _ = self.keys(game.channel_id)
        credit = FoundFact(-1, exchange.user_id, finder, exchange.at).encode()
        result = await self._append(
            keys=[game_key, log_key, self.replies_key(game.channel_id), *self.tally_keys(game.channel_id)],
            args=[
                game.game_id,
                exchange.encode(),
                self.transcript_cap,
                self.ttl,
                "" if solved_by is None else str(solved_by),
                repr(exchange.at),
                self._marked.pop(game.channel_id, ""),
                self.owner,
                str(exchange.user_id),
                OUTBOX_KEEP_SECONDS,
                found_records(found, credit),
                "" if solved_by is None else FoundFact(-1, solved_by, finder, exchange.at).encode(),
                len(game.key_facts),
            ],
        )
        if result == -1:
            raise OutOfQuestions(game.game_id)
        if not result:
            return False
        game.found = decode_found(hash_pairs(result[1]), len(game.key_facts))
        if solved_by is not None:
            await self._tell("ended", game.channel_id)
        return True

    async def stop(
        self, channel_id: int, stopped_by: int | None = None, game_id: str = "", reason: str = ""
    ) -> tuple[bool, Game | None]:
        """Stop the active game, only if it is `game_id` (when given), noting `reason` when one is given
        (a limit reached); (changed, the game as it now is)."""
        game_key, _, _ = self.keys(channel_id)
        changed, flat = await self._stop(
            keys=[game_key, *self.tally_keys(channel_id)],
            args=[repr(time.time()), stopped_by or "", game_id, OUTBOX_KEEP_SECONDS, reason],
        )
        if changed:
            await self._tell("ended", channel_id)
        if not flat:
            return False, None
        return bool(changed), Game.from_hash(channel_id, hash_pairs(flat))

    # -- replies being streamed, so a restarted bot can mark the ones it abandoned ---------

    async def mark_streaming(self, game: Game, shard_id: int, message_id: int) -> None:
        if self._marked.get(game.channel_id) == str(message_id):
            return  # noted already (a queued reply is noted with its turn's load)
        self._marked[game.channel_id] = str(message_id)
        await self._mark(**self._mark_keys_and_args(game, shard_id, message_id, split=True))

    def _mark_keys_and_args(self, game: Game, shard_id: int, message_id: int, split: bool = False) -> Any:
        """The marking script's keys and arguments: as ``keys=``/``args=`` (split) or as EVALSHA takes them."""
        marker = json.dumps({"owner": self.owner, "game": game.game_id, "language": game.language, "shard": shard_id})
        keys = [self.keys(game.channel_id)[0], self.replies_key(game.channel_id)]
        args = [game.game_id, str(message_id), marker, self.ttl]
        return {"keys": keys, "args": args} if split else [*keys, *args]

    async def clear_streaming(self, channel_id: int) -> None:
        """Forget the marker of the reply this process streams in the channel (no one else's)."""
        message_id = self._marked.pop(channel_id, "")
        if message_id:
            await self._clear(keys=[self.replies_key(channel_id)], args=[message_id, self.owner])

    async def take_abandoned(self, shard_ids: Iterable[int]) -> list[tuple[int, int, str]]:
        """(channel, message, language) of replies that were streaming, in these shards, when a
        process stopped; each is taken (read and removed) in one script. Found with SCAN (never
        KEYS), once at start-up."""
        wanted = json.dumps({str(shard): True for shard in shard_ids})
        abandoned = []
        async for key in self.redis.scan_iter(match=f"{self.prefix}:{{ch*}}:replies", count=1000):
            channel_id = int(key.split("{ch", 1)[1].split("}", 1)[0])
            for message_id, raw in hash_pairs(await self._take(keys=[key], args=[wanted])).items():
                abandoned.append((channel_id, int(message_id), json.loads(raw)["language"]))
        return abandoned

    async def timed_games(self) -> list[tuple[int, str, float, float]]:
        """(channel, game id, started at, time limit) of every active game with a time limit, so a
        starting process can keep their clocks. Found with SCAN (never KEYS), once at start-up."""
        timed = []
        async for key in self.redis.scan_iter(match=f"{self.prefix}:{{ch*}}:game", count=1000):
            status, game_id, started_at, limit = await self.redis.hmget(
                key, ["status", "game_id", "started_at", "time_limit"]
            )
            if status == ACTIVE and game_id and started_at and limit:
                channel_id = int(key.split("{ch", 1)[1].split("}", 1)[0])
                timed.append((channel_id, game_id, float(started_at), float(limit)))
        return timed


def hash_pairs(flat: list[str]) -> dict[str, str]:
    """A hash as a Lua script returns it (HGETALL's flat list) -> a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def found_records(facts: Iterable[int], credit: str) -> str:
    """The key facts a message found, each with its credit, as the store's scripts take them ("" for none)."""
    records = {str(index): credit for index in facts}
    return json.dumps(records, ensure_ascii=False) if records else ""
