"""/puzzle generate through the real bot on a real redis-server, the host model scripted over real HTTP: the admin
reviews a draft privately (answer included), approves it and /play plays it; regenerates; discards; a member
without the right is refused; a run of refused drafts ends in a clear message; English and Chinese. Nothing of a
draft's answer reaches anyone but the admin who asked for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import discord
import pytest
import redis.asyncio as aioredis
import simcord

from tests.bot_fixtures import Table
from tests.fakes.puzzle_texts import LADDER_DRAFT, ONE_PUZZLE_PACK, PAINTING_DRAFT
from tests.fakes.upstream import FakeUpstream, Reply

EN_SECOND = {
    "title": "The Empty Envelope",
    "story": "Every Monday a man posts an empty envelope to his neighbour, who thanks him warmly each time.",
    "answer": "The neighbour is housebound and collects stamps; the man sticks a different rare stamp on every "
    "envelope, and the envelope is only there to carry it.",
    "key_facts": ["The neighbour collects stamps.", "Each envelope carries a rare stamp."],
    "hints": ["Look at the outside of the envelope.", "The neighbour has a hobby."],
    "difficulty": "medium",
}


@pytest.fixture
def config_overrides(tmp_path: Path) -> dict[str, dict]:
    pack = tmp_path / "bank.yaml"
    pack.write_text(ONE_PUZZLE_PACK, encoding="utf-8")
    game = {"include_builtin": False, "puzzle_files": [str(pack)], "question_cooldown": 0}
    return {"game": game, "generate": {"max_attempts": 2, "model": "writer-1", "request_timeout": 10}}


async def stored(client: aioredis.Redis, table: Table) -> dict[str, dict[str, Any]]:
    entries = await client.hgetall(f"soup:{{g{table.channel.guild.id}}}:puzzles")
    return {puzzle_id: json.loads(entry) for puzzle_id, entry in entries.items()}


def reply(fields: dict[str, Any]) -> Reply:
    return Reply.text(json.dumps(fields, ensure_ascii=False), size=24)


async def generate(member: simcord.MemberActor, table: Table, **options: str) -> simcord.ResponseMessage:
    result = await member.slash(table.channel, "puzzle generate", **options)
    assert result.ephemeral
    [draft] = result.followups or [result.response]
    assert draft is not None and draft.ephemeral
    return draft


def now_shown(table: Table, member: simcord.MemberActor, message: simcord.ResponseMessage) -> discord.Message:
    """The message as `member` sees it now (after edits)."""
    return next(shown for shown in table.channel.history(viewer=member) if shown.id == message.id)


def seen_by(table: Table, member: simcord.MemberActor) -> str:
    """Everything `member` can read in the channel: contents and embeds."""
    parts: list[str] = []
    for message in table.channel.history(viewer=member):
        parts.append(message.content)
        for embed in message.embeds:
            parts += [embed.title or "", embed.description or "", embed.footer.text or ""]
    return "\n".join(parts)


async def test_a_chinese_draft_is_reviewed_privately_approved_and_played(
    table: Table, admin: simcord.MemberActor, client: aioredis.Redis, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.queue(reply(PAINTING_DRAFT))
    draft = await generate(admin, table, language="zh", theme="绘画")
    assert "**writer-1**" in draft.content
    story, answer = draft.embeds
    assert story.title == "🐢 黑暗中的画" and story.description == PAINTING_DRAFT["story"]
    assert PAINTING_DRAFT["answer"] in answer.description and "2. 图案只有在黑暗里才看得见" in answer.description
    assert answer.footer.text == "zh · hard · written by writer-1"
    request = fake_upstream.requests[-1]
    assert request["model"] == "writer-1" and request["temperature"] == 0.9
    assert "主题：绘画" in request["messages"][-1]["content"]
    assert PAINTING_DRAFT["answer"] not in seen_by(table, table.alice)  # only the admin sees the draft
    with pytest.raises(simcord.SetupError, match="not visible to this user"):
        await table.alice.click(draft, label="Approve")

    approved = await admin.click(draft, label="Approve")
    assert approved.response is not None
    [(puzzle_id, entry)] = (await stored(client, table)).items()
    assert entry["generated_by"] == "writer-1" and entry["key_facts"] == PAINTING_DRAFT["key_facts"]
    assert entry["difficulty"] == "hard" and entry["language"] == "zh"
    shown = now_shown(table, admin, draft)
    assert shown.content.startswith(f"Added **黑暗中的画** (`{puzzle_id}`, zh, hard, written by writer-1)")
    assert shown.components == []  # no buttons left to press twice
    listed = (await admin.slash(table.channel, "puzzle list")).response.content
    assert f"`{puzzle_id}` · zh · hard · 黑暗中的画 · 🤖 writer-1" in listed

    played = (await table.alice.slash(table.channel, "play", language="zh")).response.embeds[0]
    assert played.title == "🐢 黑暗中的画" and played.description == PAINTING_DRAFT["story"]
    assert PAINTING_DRAFT["answer"] not in seen_by(table, table.alice)
    assert PAINTING_DRAFT["answer"] not in seen_by(table, table.bob)


async def test_regenerate_shows_a_new_draft_and_discard_stores_nothing(
    table: Table, admin: simcord.MemberActor, client: aioredis.Redis, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.queue(reply(LADDER_DRAFT), reply(EN_SECOND))
    draft = await generate(admin, table, language="en", difficulty="medium")
    assert draft.embeds[0].title == "🐢 The Ladder on the Ice"
    await admin.click(draft, label="Regenerate")
    again = now_shown(table, admin, draft)
    assert again.embeds[0].title == "🐢 The Empty Envelope"
    assert "medium" in again.embeds[1].footer.text
    assert "of medium difficulty" in fake_upstream.requests[-1]["messages"][-1]["content"]
    await admin.click(again, label="Discard")
    gone = now_shown(table, admin, draft)
    assert gone.content == "Discarded the draft; nothing was stored." and gone.embeds == []
    assert await stored(client, table) == {}
    assert EN_SECOND["answer"] not in seen_by(table, table.bob)


async def test_every_draft_refused_ends_in_a_clear_message_and_a_member_without_the_right_is_refused(
    table: Table, admin: simcord.MemberActor, client: aioredis.Redis, fake_upstream: FakeUpstream
) -> None:
    copy = {
        **LADDER_DRAFT,
        "story": ONE_PUZZLE_PACK.split("story: ")[1].split("\n")[0],
        "answer": "The man had hiccups; the fright of the gun cured them, so he no longer needed any water.",
    }
    fake_upstream.queue(Reply.text("Sorry, no puzzle today."), reply(copy))
    draft = await generate(admin, table, language="en")
    assert draft.content.startswith("The host could not write a usable puzzle in 2 draft(s); nothing was stored.")
    assert "1. the reply holds no JSON object" in draft.content
    assert "2. it repeats the known puzzle 'The Bank Puzzle'" in draft.content
    assert draft.components == [] and await stored(client, table) == {}

    fake_upstream.queue(Reply(status=503))
    down = await generate(admin, table, language="en")
    assert down.content.startswith("The host model can't be reached right now (HTTP 503)")

    before = len(fake_upstream.requests)
    refused = await table.bob.slash(table.channel, "puzzle generate", language="en")
    assert refused.ephemeral and refused.response.content.startswith("Only members with the Manage Server permission")
    assert len(fake_upstream.requests) == before
