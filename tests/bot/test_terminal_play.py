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
