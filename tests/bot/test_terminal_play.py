"""`python -m bot.play` driven through stdin/stdout against the fake upstream and a real Redis."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fakes.upstream import FakeUpstream, Reply

TUNNEL_PACK = """\
puzzles:
  - id: test-tunnel
    language: zh
    title: 隧道
    story: 一个男人坐火车回家，火车进了隧道，他在黑暗中跳下了火车。
    answer: 他刚做完眼睛手术，以为自己又失明了，绝望之下跳了车。
"""
ROOM_PACK = """\
puzzles:
  - id: test-room
    language: en
    title: The Room
    story: A man lies dead in a room with a puddle of water and broken glass.
    answer: He was a goldfish; his bowl fell off the shelf.
    key_facts: [He was a goldfish, His bowl broke]
"""
ANSWER = "his bowl fell off the shelf"


def run_play(
    tmp_path: Path, redis_url: str, upstream: FakeUpstream, stdin: str, *args: str, game: str = ""
) -> subprocess.CompletedProcess:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"redis: {{url: '{redis_url}'}}\nmodel: {{base_url: '{upstream.base_url}', api_key: k, max_retries: 0}}\n"
        + (f"game: {game}\n" if game else ""),
        encoding="utf-8",
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.play", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_plays_a_game_in_the_terminal(tmp_path: Path, redis_url: str, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text("No. Think about the water.", size=3), Reply.text("Yes."))
    result = run_play(tmp_path, redis_url, fake_upstream, "Was he thirsty?\nfinish\nIs it night?\nstop\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("== ") == 2  # the first story, then a new one after `finish`
    assert "No. Think about the water." in out and "Yes." in out, out
    assert out.count("The answer to") == 2  # revealed by finish, and by stop
    first, second = (request["messages"][0]["content"] for request in fake_upstream.requests)
    assert first != second  # `finish` started another puzzle
    assert fake_upstream.requests[0]["messages"][-1]["content"].startswith("Was he thirsty?")


def test_solving_in_chinese_and_a_failing_host(tmp_path: Path, redis_url: str, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply(status=500), Reply.text("正确！你猜中了。"))
    (tmp_path / "pack.yaml").write_text(TUNNEL_PACK, encoding="utf-8")
    result = run_play(
        tmp_path,
        redis_url,
        fake_upstream,
        "他失明了吗？\n他以为自己又失明了？\n还有吗？\n",
        "--language",
        "zh",
        game="{puzzle_files: [pack.yaml], include_builtin: false}",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "主持人暂时无法回答" in out
    assert "正确！你猜中了。" in out
    assert "finish" in out.split("正确！你猜中了。")[1]  # after solving it says how to go on
    assert len(fake_upstream.requests) == 2  # the question after the solve cost no model call


def test_bad_config_names_file_and_key(tmp_path: Path, redis_url: str, fake_upstream: FakeUpstream) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("game: {default_language: fr}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot.play", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert str(config) in result.stderr and "game.default_language" in result.stderr


def play_room(tmp_path: Path, redis_url: str, upstream: FakeUpstream, stdin: str, limit: str) -> str:
    """A terminal game of the two-fact room puzzle under one game limit (a YAML `key: value`); its output."""
    (tmp_path / "pack.yaml").write_text(ROOM_PACK, encoding="utf-8")
    game = f"{{puzzle_files: [pack.yaml], include_builtin: false, {limit}}}"
    result = run_play(tmp_path, redis_url, upstream, stdin, game=game)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_question_limit_reveals_the_answer(tmp_path: Path, redis_url: str, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text("No."), Reply.text("Yes."))
    stdin = "Was it a person?\nDid something fall?\nOne more?\nstop\n"
    out = play_room(tmp_path, redis_url, fake_upstream, stdin, "max_questions: 2")
    # Right after the last allowed answer: the limit, the answer and the summary, as the cog shows them.
    ending = out.split("Yes.", 1)[1]
    assert "last of the 2 questions" in ending and ANSWER in ending, out
    assert "Game summary" in ending and "Ended: question limit reached" in ending, out
    assert "Questions asked: 2/2" in ending and "Key facts found: 0/2" in ending, out
    assert out.count(ANSWER) == 1  # the question after it and `stop` do not reveal it again
    assert "No game is running" in ending.split("Key facts found", 1)[1], out  # `stop` says why nothing happens
    assert len(fake_upstream.requests) == 2  # the question after the limit cost no model call


def test_time_limit_reveals_the_answer_on_the_next_question(
    tmp_path: Path, redis_url: str, fake_upstream: FakeUpstream
) -> None:
    # The first reply takes longer than the whole game (0.02 minutes): the next question finds the time up.
    fake_upstream.queue(Reply.text("No.", first_delay=2.0))
    out = play_room(
        tmp_path, redis_url, fake_upstream, "Was it a person?\nDid something fall?\nstop\n", "time_limit_minutes: 0.02"
    )
    ending = out.split("No.", 1)[1]
    assert "Time is up" in ending and ANSWER in ending, out
    assert "Ended: time ran out" in ending and "Questions asked: 1" in ending, out
    assert out.count(ANSWER) == 1, out
    assert "No game is running" in ending.split("Key facts found", 1)[1], out
    assert len(fake_upstream.requests) == 1  # the late question was not put to the model


def test_a_thinking_host_in_the_terminal(tmp_path: Path, redis_url: str, fake_upstream: FakeUpstream) -> None:
    """The terminal says the host is thinking, never what it thinks; a thought with no answer is not counted."""
    (tmp_path / "room.yaml").write_text(ROOM_PACK, encoding="utf-8")
    thought = f"Pondering: the answer is that {ANSWER}, so no."
    fake_upstream.queue(
        Reply.thinking("deepseek_reasoner", thought, "No. Look at the glass."),
        Reply.text(f"<think>{thought}"),  # cut off mid-thought
        Reply.thinking("ollama_inline", thought, "Yes."),
    )
    stdin = "Was it raining?\nWas he alone?\nWas he in the room?\nstop\n"
    game = "{puzzle_files: [room.yaml], include_builtin: false}"
    result = run_play(tmp_path, redis_url, fake_upstream, stdin, "--language", "en", game=game)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("💭 The host is thinking…") == 3
    assert "No. Look at the glass." in out and "Yes." in out
    assert "gave no answer in time" in out
    assert "Pondering" not in out and "Pondering" not in result.stderr
    assert out.count(ANSWER) == 1  # only in the answer revealed by `stop`
    assert [message["content"] for message in fake_upstream.requests[2]["messages"][2:3]] == [
        "No. Look at the glass."
    ]  # the history sent back holds the answer only
