"""Puzzles as long as a pack allows still reach the channel whole: story, reveal and solve."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.game.puzzles import MAX_LENGTHS
from tests.bot.test_game_flow import start_game
from tests.bot_fixtures import Table
from tests.fakes.redis_state import only_game
from tests.fakes.upstream import FakeUpstream, Reply


def longest_puzzle(name: str) -> dict[str, str]:
    def text(field: str) -> str:
        filler = (
            "consectetur adipiscing elit" if field == "answer" else "lorem ipsum dolor sit amet"
        )  # words of its own
        words = f"{name}-{field} {filler} "
        return (words * (MAX_LENGTHS[field] // len(words) + 1))[: MAX_LENGTHS[field]].strip()

    return {"id": name, "language": "en", "title": text("title"), "story": text("story"), "answer": text("answer")}


@pytest.fixture
def config_overrides(tmp_path: Path) -> dict[str, dict]:
    pack = tmp_path / "long.yaml"
    pack.write_text(yaml.safe_dump({"puzzles": [longest_puzzle("first"), longest_puzzle("second")]}), "utf-8")
    return {"game": {"puzzle_files": [str(pack)], "include_builtin": False}}


def embeds_in_channel(table: Table) -> list[tuple[str, str]]:
    return [(embed.title, embed.description) for message in table.channel.history() for embed in message.embeds]


async def test_newgame_with_the_longest_answer_and_story_posts_both(table: Table, redis_url: str) -> None:
    await start_game(table)
    old = await only_game(redis_url)
    await table.alice.slash(table.channel, "newgame")
    new = await only_game(redis_url)
    assert new["game_id"] != old["game_id"]
    shown = [description for _, description in embeds_in_channel(table)]
    assert old["answer"] in shown  # the old game's answer was revealed
    assert new["story"] in shown  # and the new story posted


async def test_the_longest_puzzle_can_be_stopped_and_solved(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    answer = (await only_game(redis_url))["answer"]
    await table.alice.slash(table.channel, "stop")
    assert any(description == answer for _, description in embeds_in_channel(table))

    await start_game(table)
    game = await only_game(redis_url)
    fake_upstream.queue(Reply.text("Correct! That is it."))
    await table.bob.send(table.channel, f"Is it that {game['answer'][:400]}?")
    solved = table.channel.last_message.embeds[0]
    assert solved.title.startswith("🎉 Solved") and game["answer"] in solved.description
