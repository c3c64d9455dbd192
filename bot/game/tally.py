"""The tally of an ended game, written in the channel's own hash slot at the moment the game ends.

Every script that ends a game (a solve, /stop, /newgame replacing it, a limit, the expiry sweep) calls
`record_end` in the same script, so the tally is written exactly once, atomically with the end. The
tally waits in the channel's `ended` hash (its outbox) until the score keeper applies it to the guild's
keys, which live in another hash slot (bot/game/scores.py); applying is idempotent, so delivering an
entry twice (two processes, a retry) counts it once.
"""

from __future__ import annotations

# How long an undelivered tally waits in a channel's outbox (renewed by each game that ends there).
OUTBOX_KEEP_SECONDS = 30 * 86400

# record_end(game_key, found_key, outbox_key, status, reason, now, keep): the game's tally, by player.
# Player ids stay strings: Discord ids exceed the 2^53 a Lua number holds exactly.
RECORD_END_LUA = """
local function record_end(game_key, found_key, outbox_key, status, reason, now, keep)
  local flat = redis.call('HGETALL', game_key)
  local game = {}
  for i = 1, #flat, 2 do game[flat[i]] = flat[i + 1] end
  if not game['game_id'] then return end
  local players = {}
  local function bump(id, what, by)
    if not id or id == '' then return end
    local player = players[id]
    if not player then
      player = {asked = 0, facts = 0, hints = 0, solved = 0}
      players[id] = player
    end
    player[what] = player[what] + by
  end
  for name, value in pairs(game) do
    local asker = string.match(name, '^asked:(%d+)$')
    if asker then bump(asker, 'asked', tonumber(value)) end
    local hinted = string.match(name, '^hint_by:(%d+)$')
    if hinted then bump(hinted, 'hints', tonumber(value)) end
  end
  local facts = 0
  for _, raw in ipairs(redis.call('HVALS', found_key)) do
    facts = facts + 1
    bump(string.match(raw, '"by"%s*:%s*"?(%d+)'), 'facts', 1)
  end
  bump(game['started_by'], 'asked', 0)
  if status == 'solved' then bump(game['solver'], 'solved', 1) end
  local record = {
    game = game['game_id'], guild = game['guild_id'] or '', status = status,
    reason = game['ended_reason'] or reason, ended_at = game['ended_at'] or now,
    questions = tonumber(game['questions'] or '0'), hints = tonumber(game['hints_used'] or '0'),
    facts = facts, players = players,
  }
  redis.call('HSET', outbox_key, game['game_id'], cjson.encode(record))
  redis.call('EXPIRE', outbox_key, keep)
end
"""


def outbox_key(prefix: str, channel_id: int) -> str:
    """Tallies of the channel's ended games not yet applied to its guild's scores (same slot as its game)."""
    return f"{prefix}:{{ch{channel_id}}}:ended"


def found_key(prefix: str, channel_id: int) -> str:
    """The key facts found in the channel's game (written by the facts feature; read here at the end)."""
    return f"{prefix}:{{ch{channel_id}}}:found"
