"""An appeal's state in Redis: claimed, then applied (or given back), each step one atomic script.

An appeal takes seconds (several samples, maybe a stronger model that thinks), so it is done in two steps. The
claim checks everything that decides whether the verdict may be contested (the game, the exchange, the window,
the table's `max_appeals`, a verdict appealed once only) and marks the exchange `appeal:<number>` =
`pending:<token>` in the game's hash, counting the appeal; a second appeal of the same verdict, from anywhere,
then finds the mark. The result is applied only by the claim's holder, only to the same exchange of the same
still-active game, together with every change it makes: the exchange rewritten in the transcript, the key
facts that exchange alone was credited with removed, new ones credited (the first finder keeps each), and a
solve ended exactly as a question's solve ends (bot/game/tally.py). An appeal that could not be judged gives
its claim back. A new game deletes the hash, marks and counts with it.

The transcript list is trimmed from the front, so an exchange is found by its number: it sits `questions -
number` places from the end. Player ids and times are read from the stored JSON as digit strings (a Discord id
is past what a Lua number holds exactly).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from bot.game.facts import FoundFact, decode_found
from bot.game.store import Exchange, Game, GameStore, found_records, hash_pairs
from bot.game.tally import OUTBOX_KEEP_SECONDS, RECORD_END_LUA

_LOCATE = """
local function locate(number)
  local questions = tonumber(redis.call('HGET', KEYS[1], 'questions') or '0')
  if number < 1 or number > questions then return nil, nil end
  local index = redis.call('LLEN', KEYS[2]) - (questions - number) - 1
  if index < 0 then return nil, nil end
  return index, redis.call('LINDEX', KEYS[2], index)
end
local mark = 'appeal:' .. ARGV[2]
"""

# ARGV: game id, number, asker, now, window (s), max appeals, token. Answers {reason} or {'ok', exchange}.
_CLAIM = (
    _LOCATE
    + """
if redis.call('HGET', KEYS[1], 'game_id') ~= ARGV[1] then return {'gone'} end
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return {'ended'} end
local index, raw = locate(tonumber(ARGV[2]))
if not raw or string.match(raw, '"u":(%d+)') ~= ARGV[3] then return {'not_found'} end
local verdict = string.match(raw, '"v":"(%a+)"')
if verdict ~= 'yes' and verdict ~= 'no' and verdict ~= 'irrelevant' then return {'no_verdict'} end
if redis.call('HEXISTS', KEYS[1], mark) == 1 then return {'again'} end
if tonumber(ARGV[4]) - tonumber(string.match(raw, '"t":(%d+)')) > tonumber(ARGV[5]) then return {'window'} end
if tonumber(redis.call('HGET', KEYS[1], 'appeals') or '0') >= tonumber(ARGV[6]) then return {'limit'} end
redis.call('HSET', KEYS[1], mark, 'pending:' .. ARGV[7])
redis.call('HINCRBY', KEYS[1], 'appeals', 1)
return {'ok', raw}
"""
)

# ARGV: game id, number, token. The claim is given back (uncounted) only by its holder.
_RELEASE = (
    _LOCATE
    + """
if redis.call('HGET', KEYS[1], mark) ~= 'pending:' .. ARGV[3] then return 0 end
redis.call('HDEL', KEYS[1], mark)
redis.call('HINCRBY', KEYS[1], 'appeals', -1)
return 1
"""
)

# ARGV: 1 game id, 2 number, 3 token, 4 the exchange as it now reads, 5 its time, 6 its asker, 7 facts to take
# back (JSON list; only those whose record is this exchange's own), 8 facts to credit (JSON index -> record),
# 9 the solver's record ('' when it does not solve), 10 key facts in all, 11 now, 12 the appeal's record,
# 13 '1' when the verdict changed, 14 outbox keep, 15 ttl. Answers {reason} or {'ok', found hash}.
_APPLY = (
    _LOCATE
    + RECORD_END_LUA
    + """
if redis.call('HGET', KEYS[1], mark) ~= 'pending:' .. ARGV[3] then return {'lost'} end
if redis.call('HGET', KEYS[1], 'game_id') ~= ARGV[1] then return {'lost'} end
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return {'ended'} end
local index, raw = locate(tonumber(ARGV[2]))
if not raw or string.match(raw, '"t":(%d+)') ~= ARGV[5] or string.match(raw, '"u":(%d+)') ~= ARGV[6] then
  redis.call('HDEL', KEYS[1], mark)
  redis.call('HINCRBY', KEYS[1], 'appeals', -1)
  return {'not_found'}
end
redis.call('LSET', KEYS[2], index, ARGV[4])
for _, fact in ipairs(cjson.decode(ARGV[7])) do
  local record = redis.call('HGET', KEYS[3], tostring(fact))
  if record and string.match(record, '"by"%s*:%s*"?(%d+)') == ARGV[6]
     and string.match(record, '"at"%s*:%s*(%d+)') == ARGV[5] then
    redis.call('HDEL', KEYS[3], tostring(fact))
  end
end
if ARGV[8] ~= '' then
  for fact, record in pairs(cjson.decode(ARGV[8])) do redis.call('HSETNX', KEYS[3], fact, record) end
end
redis.call('HSET', KEYS[1], mark, ARGV[12], 'updated_at', ARGV[11])
if ARGV[13] == '1' then redis.call('HINCRBY', KEYS[1], 'appeals_changed', 1) end
if ARGV[9] ~= '' then
  for fact = 0, tonumber(ARGV[10]) - 1 do redis.call('HSETNX', KEYS[3], tostring(fact), ARGV[9]) end
  redis.call('HSET', KEYS[1], 'status', 'solved', 'solver', ARGV[6], 'ended_at', ARGV[11])
  record_end(KEYS[1], KEYS[3], KEYS[4], 'solved', 'solved', ARGV[11], ARGV[14])
end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], ARGV[15]) end
return {'ok', redis.call('HGETALL', KEYS[3])}
"""
)


@dataclass(frozen=True, slots=True)
class Claim:
    game_id: str
    channel_id: int
    number: int
    token: str
    exchange: Exchange


@dataclass(frozen=True, slots=True)
class Change:
    """What an appeal writes: the exchange as it now reads and the key facts it gives and takes back."""

    exchange: Exchange
    taken_back: frozenset[int] = frozenset()
    credited: frozenset[int] = frozenset()
    solves: bool = False
    changed: bool = False
    appellant: int = 0
    finder: str = ""  # the asker's display name, for facts credited to them


class AppealStore:
    """The three appeal scripts, over a game store's keys."""

    def __init__(self, store: GameStore) -> None:
        self.store = store
        self._claim = store.redis.register_script(_CLAIM)
        self._release = store.redis.register_script(_RELEASE)
        self._apply = store.redis.register_script(_APPLY)

    def _keys(self, channel_id: int) -> list[str]:
        game_key, log_key, _ = self.store.keys(channel_id)
        return [game_key, log_key, *self.store.tally_keys(channel_id)]

    async def claim(self, game: Game, number: int, asker: int, now: float, window: float, most: int) -> Claim | str:
        """The claim on exchange `number`, or why there is none: 'gone', 'ended', 'not_found', 'no_verdict',
        'again', 'window', 'limit'."""
        token = uuid.uuid4().hex[:12]
        answer = await self._claim(
            keys=self._keys(game.channel_id),
            args=[game.game_id, number, str(asker), repr(now), repr(window), most, token],
        )
        if answer[0] != "ok":
            return str(answer[0])
        return Claim(game.game_id, game.channel_id, number, token, Exchange.decode(answer[1]))

    async def release(self, claim: Claim) -> None:
        await self._release(keys=self._keys(claim.channel_id), args=[claim.game_id, claim.number, claim.token])

    async def apply(
        self, claim: Claim, change: Change, total_facts: int, now: float
    ) -> tuple[str, dict[int, FoundFact]]:
        """Write the appeal's result; ('ok', found facts as they now are) or (why not: 'lost', 'ended',
        'not_found', {})."""
        before, after = claim.exchange, change.exchange
        credit = FoundFact(-1, before.user_id, change.finder, before.at).encode()
        record = json.dumps(
            {"by": str(change.appellant), "from": before.verdict, "to": after.verdict, "at": int(now)},
            separators=(",", ":"),
        )
        answer = await self._apply(
            keys=self._keys(claim.channel_id),
            args=[
                claim.game_id,
                claim.number,
                claim.token,
                after.encode(),
                str(int(before.at)),
                str(before.user_id),
                json.dumps(sorted(change.taken_back)),
                found_records(change.credited, credit),
                credit if change.solves else "",
                total_facts,
                repr(now),
                record,
                "1" if change.changed else "0",
                OUTBOX_KEEP_SECONDS,
                self.store.ttl,
            ],
        )
        if answer[0] != "ok":
            return str(answer[0]), {}
        return "ok", decode_found(hash_pairs(answer[1]), total_facts)

    async def records(self, channel_id: int) -> Mapping[int, dict[str, str]]:
        """Every appeal of the channel's game by exchange number (pending ones as {'pending': token})."""
        raw = await self.store.redis.hgetall(self.store.keys(channel_id)[0])
        appeals: dict[int, dict[str, str]] = {}
        for name, value in raw.items():
            if not name.startswith("appeal:"):
                continue
            number = int(name.split(":", 1)[1])
            appeals[number] = {"pending": value[8:]} if value.startswith("pending:") else json.loads(value)
        return appeals
