"""A server's own puzzles, kept in Redis under the guild's hash tag and validated by the pack parser.

They are stored as pack entries (the YAML format's fields, as JSON), so export writes a pack that
imports again unchanged, and every way in (the /puzzle add form, an imported file) passes the same
validation as a puzzle pack on disk: errors name the puzzle and the field, and nothing is stored
unless every puzzle is valid.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import yaml
from redis.asyncio.cluster import RedisCluster

from bot.game.puzzles import DEFAULT_DIFFICULTY, Puzzle, PuzzleError, parse_pack

MAX_ID_STEM = 40
MAX_FILE_BYTES = 512 * 1024

# Store puzzles only if the server stays within its limit: KEYS[1] the server's puzzles; ARGV[1] the
# limit, ARGV[2] 'add' (refuse ids already there) or 'import' (replace them), then id, entry pairs.
# Answers {stored, replaced, count after} or {-1, id taken} / {-2, count it would reach}.
_STORE = """
local new, replaced = 0, 0
for i = 3, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    if ARGV[2] == 'add' then return {-1, ARGV[i]} end
    replaced = replaced + 1
  else
    new = new + 1
  end
end
local total = redis.call('HLEN', KEYS[1]) + new
if total > tonumber(ARGV[1]) then return {-2, tostring(total)} end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return {new + replaced, replaced, total}
"""


class PuzzleLimitReached(PuzzleError):
    def __init__(self, limit: int, would_reach: int) -> None:
        super().__init__(f"a server keeps at most {limit} puzzles; this would make {would_reach}")
        self.limit = limit
        self.would_reach = would_reach


class PuzzleIdTaken(PuzzleError):
    def __init__(self, puzzle_id: str) -> None:
        super().__init__(f"puzzle {puzzle_id!r}: id: this server already has a puzzle with this id")
        self.puzzle_id = puzzle_id


@dataclass(frozen=True, slots=True)
class Stored:
    stored: int
    replaced: int
    total: int


def entry_of(puzzle: Puzzle) -> dict[str, Any]:
    """A puzzle as a pack entry: the fields a pack file writes, optional lists only when present."""
    entry: dict[str, Any] = {
        "id": puzzle.id,
        "language": puzzle.language,
        "difficulty": puzzle.difficulty,
        "title": puzzle.title,
        "story": puzzle.story,
        "answer": puzzle.answer,
    }
    if puzzle.key_facts:
        entry["key_facts"] = list(puzzle.key_facts)
    if puzzle.hints:
        entry["hints"] = list(puzzle.hints)
    if puzzle.generated_by:
        entry["generated_by"] = puzzle.generated_by
    return entry


def new_id(title: str) -> str:
    """An id from the title's ASCII words (if any) and a random suffix, e.g. `the-last-match-3f9a1c`."""
    stem = "-".join(re.findall(r"[a-z0-9]+", title.lower()))[:MAX_ID_STEM].strip("-") or "puzzle"
    return f"{stem}-{secrets.token_hex(3)}"


def lines(text: str | None) -> list[str]:
    """A multi-line form field as a list: one item per non-blank line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def puzzle_from_form(
    source: str,
    *,
    title: str,
    story: str,
    answer: str,
    key_facts: str,
    hints: str | None,
    language: str,
    difficulty: str | None,
    puzzle_id: str | None = None,
) -> Puzzle:
    """Validate what the /puzzle add form holds, exactly as a pack entry would be; PuzzleError names the field."""
    entry: dict[str, Any] = {
        "id": puzzle_id or new_id(title),
        "language": language,
        "difficulty": difficulty or DEFAULT_DIFFICULTY,
        "title": title,
        "story": story,
        "answer": answer,
        "key_facts": lines(key_facts),
    }
    if lines(hints):
        entry["hints"] = lines(hints)
    [puzzle] = parse_pack(dump_pack([entry]), source)
    return puzzle


def puzzles_from_file(name: str, data: bytes) -> list[Puzzle]:
    """Validate an uploaded pack; PuzzleError names the file, the puzzle and the field."""
    if len(data) > MAX_FILE_BYTES:
        raise PuzzleError(f"{name}: too large ({len(data):,} bytes, at most {MAX_FILE_BYTES:,})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PuzzleError(f"{name}: not UTF-8 text (byte {error.start})") from None
    return parse_pack(text, name)


class _PackDumper(yaml.SafeDumper):
    """Multi-line texts as literal blocks, so an exported pack reads like a hand-written one."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # a pack never holds aliases: the pack reader refuses them


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_PackDumper.add_representer(str, _text)


def dump_pack(entries: Sequence[dict[str, Any]]) -> str:
    return yaml.dump({"puzzles": list(entries)}, Dumper=_PackDumper, allow_unicode=True, sort_keys=False, width=100)


_PACK_HEAD = "puzzles:\n"


def split_packs(entries: Sequence[dict[str, Any]], max_bytes: int = MAX_FILE_BYTES) -> list[str]:
    """The entries as pack files of at most `max_bytes` each (UTF-8), in order, so that every file a server
    exports imports again. A list's items are written independently, so a file's size is the head's plus
    its entries' own."""
    files: list[str] = []
    pieces: list[str] = []
    size = len(_PACK_HEAD)
    for entry in entries:
        piece = dump_pack([entry]).removeprefix(_PACK_HEAD)
        piece_size = len(piece.encode("utf-8"))
        if pieces and size + piece_size > max_bytes:
            files.append(_PACK_HEAD + "".join(pieces))
            pieces, size = [], len(_PACK_HEAD)
        pieces.append(piece)
        size += piece_size
    if pieces:
        files.append(_PACK_HEAD + "".join(pieces))
    return files


class CustomPuzzles:
    """Each server's puzzles: a hash under the guild's tag, puzzle id -> pack entry (JSON)."""

    def __init__(self, client: aioredis.Redis | RedisCluster, prefix: str, limit: int) -> None:
        self.redis = client
        self.prefix = prefix
        self.limit = limit
        self._store = client.register_script(_STORE)

    def key(self, guild_id: int) -> str:
        return f"{self.prefix}:{{g{guild_id}}}:puzzles"

    async def load(self, guild_id: int) -> list[Puzzle]:
        """The server's puzzles, sorted by id (stored entries were validated on the way in)."""
        stored = await self.redis.hgetall(self.key(guild_id))
        return [_puzzle(json.loads(stored[puzzle_id]), guild_id) for puzzle_id in sorted(stored)]

    async def add(self, guild_id: int, puzzles: Sequence[Puzzle], replace: bool = False) -> Stored:
        """Store these puzzles all or none: never past the server's limit, never over an id unless `replace`."""
        args: list[Any] = [self.limit, "import" if replace else "add"]
        for puzzle in puzzles:
            args += [puzzle.id, json.dumps(entry_of(puzzle), ensure_ascii=False)]
        first, second, *rest = await self._store(keys=[self.key(guild_id)], args=args)
        if first == -1:
            raise PuzzleIdTaken(second)
        if first == -2:
            raise PuzzleLimitReached(self.limit, int(second))
        return Stored(int(first), int(second), int(rest[0]))

    async def remove(self, guild_id: int, puzzle_id: str) -> bool:
        return bool(await self.redis.hdel(self.key(guild_id), puzzle_id))

    async def export(self, guild_id: int) -> tuple[list[str], int] | None:
        """The server's puzzles as pack files that each fit an import, and how many puzzles; None when it has none."""
        stored = await self.redis.hgetall(self.key(guild_id))
        if not stored:
            return None
        return split_packs([json.loads(stored[puzzle_id]) for puzzle_id in sorted(stored)]), len(stored)


def _puzzle(entry: dict[str, Any], guild_id: int) -> Puzzle:
    return Puzzle(
        id=entry["id"],
        language=entry["language"],
        title=entry["title"],
        story=entry["story"],
        answer=entry["answer"],
        hints=tuple(entry.get("hints", ())),
        source=f"server {guild_id}",
        key_facts=tuple(entry.get("key_facts", ())),
        difficulty=entry.get("difficulty", DEFAULT_DIFFICULTY),
        generated_by=entry.get("generated_by", ""),
    )
