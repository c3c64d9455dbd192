"""A puzzle the host model wrote, from its reply to a checked Puzzle: the JSON it is asked for, a tolerant reader
of what comes back, and validation exactly as a pack entry (bot.game.puzzles.parse_pack) plus the few rules a
generated draft has besides (2–3 hints that state no key fact, room in one Discord message for the admin's review).

Every refusal is a `DraftRefused` whose message says what was wrong in words the model can act on: it is fed back
in the next attempt's prompt and shown to the admin when every attempt was refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.game.custom_puzzles import dump_pack, new_id
from bot.game.puzzles import (
    DIFFICULTIES,
    MAX_GENERATED_BY,
    MAX_KEY_FACTS,
    MIN_KEY_FACTS,
    Puzzle,
    PuzzleError,
    already_stated,
    parse_pack,
)
from bot.game.structured import JsonDocument

MIN_HINTS, MAX_HINTS = 2, 3
# Stricter than a pack's limits: the admin reviews the whole draft (story, answer, facts, hints) in one message,
# whose embeds Discord caps at 6,000 characters together.
MAX_DRAFT_LENGTHS = {"title": 100, "story": 1200, "answer": 1500}
FIELDS = ("title", "story", "answer", "key_facts", "hints", "difficulty")
SOURCE = "generated draft"


class DraftRefused(Exception):
    """A draft that cannot be used; the message names the field and the problem."""


def draft_schema() -> dict[str, Any]:
    """The JSON schema of one puzzle, fields in the order a pack writes them."""
    text = {"type": "string"}
    properties = {
        "title": text,
        "story": text,
        "answer": text,
        "key_facts": {"type": "array", "items": text, "minItems": MIN_KEY_FACTS, "maxItems": MAX_KEY_FACTS},
        "hints": {"type": "array", "items": text, "minItems": MIN_HINTS, "maxItems": MAX_HINTS},
        "difficulty": {"type": "string", "enum": list(DIFFICULTIES)},
    }
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


DRAFT_DOCUMENT = JsonDocument("turtle_soup_puzzle", draft_schema())

_FENCE = re.compile(r"```[A-Za-z]*\s*")


def read_fields(reply: str) -> dict[str, Any]:
    """The JSON object in a reply: alone, in a markdown fence, or with prose around it (the first `{` to the last
    `}`). DraftRefused when there is none or it is not valid JSON."""
    text = _FENCE.sub("", reply).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0:
        shown = " ".join(reply.split())[:80]
        raise DraftRefused(f"the reply holds no JSON object (it began: {shown!r})" if shown else "the reply was empty")
    if end < start:
        raise DraftRefused("the reply's JSON is malformed (it stops before its closing brace: cut off?)")
    try:
        # strict=False: a raw line break inside a string (models write them, some servers' grammars allow them).
        fields = json.loads(text[start : end + 1], strict=False)
    except json.JSONDecodeError as error:
        raise DraftRefused(f"the reply's JSON is malformed ({error.msg}, character {error.pos})") from None
    if not isinstance(fields, dict):
        raise DraftRefused("the reply's JSON is not an object of fields")
    return fields


def check_shape(fields: dict[str, Any]) -> None:
    """The fields a generated puzzle needs, of the right kinds and within the draft's own limits."""
    missing = [name for name in FIELDS if name not in fields]
    if missing:
        raise DraftRefused(f"missing field(s): {', '.join(missing)}")
    for name in ("title", "story", "answer"):
        value = fields[name]
        if not isinstance(value, str):
            raise DraftRefused(f"{name}: expected text, got {type(value).__name__}")
        if len(value.strip()) > MAX_DRAFT_LENGTHS[name]:
            limit = MAX_DRAFT_LENGTHS[name]
            raise DraftRefused(f"{name}: too long ({len(value.strip())} characters, at most {limit})")
    hints = fields["hints"]
    if isinstance(hints, list) and not MIN_HINTS <= len(hints) <= MAX_HINTS:
        raise DraftRefused(f"hints: expected {MIN_HINTS} to {MAX_HINTS} hints, got {len(hints)}")


def validated(fields: dict[str, Any], language: str, difficulty: str | None, model: str) -> Puzzle:
    """The draft as a Puzzle, validated as a pack entry is; `difficulty`, when the admin chose one, wins."""
    check_shape(fields)
    entry: dict[str, Any] = {
        "id": new_id(fields["title"]),
        "language": language,
        "difficulty": difficulty or fields["difficulty"],
        "title": fields["title"],
        "story": fields["story"],
        "answer": fields["answer"],
        "key_facts": fields["key_facts"],
        "hints": fields["hints"],
        "generated_by": model[:MAX_GENERATED_BY],
    }
    try:
        [puzzle] = parse_pack(dump_pack([entry]), SOURCE)
    except PuzzleError as error:
        # "generated draft: puzzle 'x-3fa1c2': story: too long …" -> "story: too long …" (the id is ours).
        problems = [re.sub(r"^.*?: puzzle (?:'[^']*'|#\d+): ", "", line) for line in str(error).splitlines()]
        raise DraftRefused("; ".join(problems)) from None
    # A pack's hints are its author's to judge; a model's hint that states a key fact would give it away.
    for number, hint in enumerate(puzzle.hints, start=1):
        stated = [str(index) for index, fact in enumerate(puzzle.key_facts, start=1) if already_stated(fact, hint)]
        if stated:
            raise DraftRefused(
                f"hints: hint {number} states key fact {', '.join(stated)} (a hint must not give it away)"
            )
    return puzzle
