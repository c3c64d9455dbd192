"""Structured verdicts in a game: the real bot under SimCord, real Redis, a scripted host answering JSON."""

from __future__ import annotations

import json

from bot.game.puzzles import builtin_puzzles
from tests.bot.test_key_facts import bot_replies, found_in_redis, payload_texts, play
from tests.bot_fixtures import Table
from tests.fakes.redis_state import exchanges
from tests.fakes.upstream import FakeUpstream, Reply

HICCUPS = next(puzzle for puzzle in builtin_puzzles() if puzzle.id == "en-hiccup-bar")
TURTLE = next(puzzle for puzzle in builtin_puzzles() if puzzle.id == "zh-sea-turtle-soup")


async def test_a_json_verdict_is_shown_counted_and_kept_as_the_text_protocol(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await play(table, HICCUPS)
    reply = json.dumps({"verdict": "yes", "comment": "He did.", "facts": [1]})
    fake_upstream.queue(Reply.text(reply, size=3, chunk_delay=0.02))
    await table.alice.send(table.channel, "Did he have hiccups?")

    assert bot_replies(table)[-1].content == "✅ Yes. He did.\n🟩⬜⬜ 1/3 · 1 new key fact(s) found!"
    shown = payload_texts(table)
    assert not any('"verdict' in payload or "[facts" in payload for payload in shown)  # no JSON, not even mid-stream
    assert list(await found_in_redis(table, redis_url)) == [0]
    [exchange] = await exchanges(redis_url)
    assert exchange["f"] == [0]
    request = fake_upstream.requests[-1]
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["schema"]["properties"]["facts"]["items"]["enum"] == [1, 2, 3]

    # The next request's history carries the reply as the host's text, the way every earlier reply is sent back.
    fake_upstream.queue(Reply.text(json.dumps({"verdict": "irrelevant", "comment": "", "facts": []})))
    await table.bob.send(table.channel, "Was it raining?")
    assert bot_replies(table)[-1].content == "➖ Irrelevant."
    assert fake_upstream.requests[-1]["messages"][2] == {"role": "assistant", "content": "Yes. He did.\n[facts: 1]"}


async def test_a_chinese_json_verdict_reads_in_chinese(table: Table, fake_upstream: FakeUpstream) -> None:
    await play(table, TURTLE)
    fake_upstream.queue(Reply.text(json.dumps({"verdict": "no", "comment": "不是。", "facts": []}, ensure_ascii=False)))
    await table.alice.send(table.channel, "他是厨师吗？")
    assert bot_replies(table)[-1].content == "❌ 否。不是。"
    assert "字段" in fake_upstream.requests[-1]["messages"][0]["content"]  # the fields described in Chinese
