"""What a server can store, /puzzle export writes in files /puzzle import reads again, through the real bot.

Thirty long Chinese puzzles (well under the 200 a server may keep) exported to one 617 KB file, over the
512 KiB an import reads: the server's own backup could not be restored.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import simcord
import yaml

from bot.game.custom_puzzles import MAX_FILE_BYTES
from bot.game.puzzles import MAX_LENGTHS, parse_pack
from tests.bot import test_custom_puzzles as custom
from tests.bot_fixtures import Table
from tests.fakes.puzzle_texts import ONE_PUZZLE_PACK

# Importing and exporting 600 KB of puzzles is real CPU work inside one interaction: on a busy 2-core machine it
# takes longer than SimCord's default 5 s settle.
pytestmark = pytest.mark.simcord(settle_timeout=60)

PUZZLES = 30
# Two disjoint sets of common characters: what the answer says, the story never does.
STORY_CHARACTERS = "天地人山水风雨云日月花草木石田土火光明暗高低远近东西南北"
ANSWER_CHARACTERS = "船灯海岸渔夫港湾礁浪潮钟塔守望信号迷雾归航盐帆锚桨舵"


def long_puzzle(number: int, rng: random.Random) -> dict[str, Any]:
    def text(characters: str, length: int) -> str:
        return "".join(rng.choice(characters) for _ in range(length))

    answer = text(ANSWER_CHARACTERS, MAX_LENGTHS["answer"] - 100)
    return {
        "id": f"long-{number:02d}",
        "language": "zh",
        "title": f"长谜题{number}",
        "story": text(STORY_CHARACTERS, MAX_LENGTHS["story"] - 100),
        "answer": answer,
        "key_facts": [answer[index * 40 : index * 40 + 30] for index in range(3)],
    }


def pack(entries: list[dict[str, Any]]) -> bytes:
    return yaml.safe_dump({"puzzles": entries}, allow_unicode=True).encode("utf-8")


@pytest.fixture
def config_overrides(tmp_path: Path) -> dict[str, dict]:
    bank = tmp_path / "bank.yaml"
    bank.write_text(ONE_PUZZLE_PACK, encoding="utf-8")
    return {"game": {"include_builtin": False, "puzzle_files": [str(bank)]}}


async def test_thirty_long_chinese_puzzles_export_to_files_that_each_import_again(
    table: Table,
    admin: simcord.MemberActor,
    client: aioredis.Redis,
) -> None:
    rng = random.Random(23)
    entries = [long_puzzle(number, rng) for number in range(PUZZLES)]
    for half in (entries[: PUZZLES // 2], entries[PUZZLES // 2 :]):  # each half fits one import
        assert len(pack(half)) <= MAX_FILE_BYTES
        imported = await admin.slash(table.channel, "puzzle import", file=("half.yaml", pack(half)))
        assert imported.response.content.startswith(f"Imported {PUZZLES // 2} puzzle(s)")
    before = await custom.stored(client, table)
    assert len(before) == PUZZLES

    exported = await admin.slash(table.channel, "puzzle export")
    attachments = exported.response.attachments
    assert len(attachments) >= 2
    assert exported.response.content.startswith(f"This server's {PUZZLES} puzzle(s), in {len(attachments)} puzzle")
    ids: list[str] = []
    for attachment in attachments:
        data = await attachment.read()
        assert len(data) <= MAX_FILE_BYTES, (attachment.filename, len(data))
        ids += [puzzle.id for puzzle in parse_pack(data.decode("utf-8"), attachment.filename)]
        again = await admin.slash(table.channel, "puzzle import", file=(attachment.filename, data))
        assert again.response.content.startswith("Imported"), again.response.content
        assert f"This server now has {PUZZLES}." in again.response.content
    assert sorted(ids) == sorted(entry["id"] for entry in entries)
    assert await custom.stored(client, table) == before  # the round trip changed nothing
