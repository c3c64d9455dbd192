"""Hints: the puzzle's stored ones in order, then ones the host writes from a key fact not yet found.

The number a game may take is counted in its hash by a script that reads and raises it in one step,
so two quick /hint calls never both take the last one.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from bot.game.puzzles import MAX_HINT_CHARACTERS
from bot.game.store import Game, GameStore

# Take the next hint of the game the caller saw, while it is active and under its cap: the hint's
# number (1 for the first), 0 when the cap is reached, -1 when the game is not (or no longer) that one.
# Who asked is counted too (`hint_by:<player>`, for the scores). A hint is activity like a question: it
# renews the game's keys (game, log, found facts) for ARGV[5] seconds, as GameStore.append does, so the
# keeper, which schedules an idle game from `updated_at`, never finds it expired before it is counted.
_TAKE_HINT = """
if redis.call('HGET', KEYS[1], 'game_id') ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return -1 end
local used = tonumber(redis.call('HGET', KEYS[1], 'hints_used') or '0')
if used >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'hint_by:' .. ARGV[4], 1)
for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ARGV[5]) end
return redis.call('HINCRBY', KEYS[1], 'hints_used', 1)
"""

# Give back a hint that could not be shown (no safe hint could be written), in that game only.
_GIVE_BACK = """
if redis.call('HGET', KEYS[1], 'game_id') ~= ARGV[1] then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'hints_used') or '0') <= 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'hints_used', -1)
if tonumber(redis.call('HINCRBY', KEYS[1], 'hint_by:' .. ARGV[2], -1)) <= 0 then
  redis.call('HDEL', KEYS[1], 'hint_by:' .. ARGV[2])
end
return 1
"""

HINT_PROMPTS = {
    "en": (
        "You are the host of a lateral-thinking puzzle game. The stories are fiction. The players are stuck "
        "and asked for a hint.\n\n"
        "Story: {story}\n\nHidden answer: {answer}\n\nThe part of the answer to nudge them towards: {fact}\n\n"
        "Write one short hint, a single sentence, that points the players in the direction of that part "
        "without stating it or any other part of the answer, and without naming its key words. "
        "Reply with the hint alone."
    ),
    "zh": (
        "你是海龟汤（情境推理游戏）的主持人。故事都是虚构的。玩家卡住了，请你给一个提示。\n\n"
        "汤面：{story}\n\n汤底：{answer}\n\n要引导玩家去想的那部分：{fact}\n\n"
        "写一句简短的提示，把玩家引向那部分的方向，但不要说出它或汤底的任何其他部分，也不要用它的关键词。"
        "只回复提示本身。"
    ),
}
HINT_REQUESTS = {"en": "Give us a hint, please.", "zh": "请给我们一个提示。"}


class HintSource(enum.StrEnum):
    STORED = "stored"
    GENERATED = "generated"


@dataclass(frozen=True, slots=True)
class Hint:
    text: str
    number: int  # 1 for the game's first hint
    source: HintSource
    game: Game


class HintCounter:
    """The per-game hint count, kept in the game's hash."""

    def __init__(self, store: GameStore) -> None:
        self.store = store
        self._take = store.redis.register_script(_TAKE_HINT)
        self._give_back = store.redis.register_script(_GIVE_BACK)

    async def take(self, game: Game, player_id: int, limit: int, now: float) -> int:
        """The number of the hint `player_id` took; 0 when `limit` is reached; -1 when `game` is not the
        active one."""
        game_key, log_key, _ = self.store.keys(game.channel_id)
        keys = [game_key, log_key, self.store.found_key(game.channel_id)]
        args = [game.game_id, limit, repr(now), str(player_id), self.store.ttl]
        return int(await self._take(keys=keys, args=args))

    async def give_back(self, game: Game, player_id: int) -> None:
        await self._give_back(keys=[self.store.keys(game.channel_id)[0]], args=[game.game_id, str(player_id)])


def stored_hint(game: Game, number: int) -> str | None:
    """The puzzle's own hint with this number, if it has that many (clipped like a written one: a pack
    imported before hints had a limit may hold a longer one, and Discord would refuse the message)."""
    return clip_hint(game.hints[number - 1]) if number <= len(game.hints) else None


def fact_to_hint(game: Game, number: int, found: Sequence[int]) -> str | None:
    """The key fact a generated hint points to: the unfound ones in turn, after the stored hints."""
    unfound = [fact for index, fact in enumerate(game.key_facts) if index not in set(found)]
    if not unfound:
        return None
    return unfound[(number - len(game.hints) - 1) % len(unfound)]


def hint_messages(game: Game, fact: str) -> list[dict[str, str]]:
    prompt = HINT_PROMPTS.get(game.language, HINT_PROMPTS["en"])
    return [
        {"role": "system", "content": prompt.format(story=game.story, answer=game.answer, fact=fact)},
        {"role": "user", "content": HINT_REQUESTS.get(game.language, HINT_REQUESTS["en"])},
    ]


def clean_hint(raw: str) -> str:
    """The model's hint as shown: trimmed, unquoted, at most MAX_HINT_CHARACTERS characters."""
    return clip_hint(raw.strip().strip("\"'“”「」").strip())


def clip_hint(hint: str) -> str:
    """At most MAX_HINT_CHARACTERS characters, an ellipsis marking a cut."""
    if len(hint) > MAX_HINT_CHARACTERS:
        hint = hint[: MAX_HINT_CHARACTERS - 1].rstrip() + "…"
    return hint
