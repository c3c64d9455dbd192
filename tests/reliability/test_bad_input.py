"""Bad input through the real bot: each gets a clear message or a normal answer, and corrupts nothing.

After every bad input the game in Redis is intact (still active, every transcript entry whole JSON with its
question, reply and verdict) and the next ordinary question is answered and stored as usual. Every message the
bot posts or edits suppresses mentions, whatever the question held.

Puzzle packs and config files with every kind of mistake are covered in tests/game/test_puzzles.py and
tests/common/test_config.py; the few file-level mistakes they leave out are at the end of this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import simcord

from bot.game.puzzles import PuzzleError, load_bank
from common.config import ConfigError, load_config
from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot_fixtures import Table
from tests.fakes.redis_state import exchanges, only_game
from tests.fakes.upstream import FakeUpstream, Reply

MAX_QUESTION = 500  # game.max_question_length's default


@dataclass(frozen=True)
class BadInput:
    text: str
    via: str  # "message" or "ask"
    expect: str  # "answer": a normal answer; otherwise a notice containing this text (ephemeral for /ask)
    asked: str | None = None  # what the model must be asked, when it differs from the text (cleaned)
    language: str = "en"


def _everyone(via: str) -> BadInput:
    return BadInput("@everyone @here is it a ghost? <@&{role}>", via, "answer")


CODE = "```py\nprint('was it poison?')\n```\nWell, was it?"
MARKDOWN = (
    "**bold** __under__ ~~strike~~ ||spoiler|| `code` *it* _it_\n"
    "# A heading\n-# subtext\n> a quote\n- a list\n[a link](https://example.com) was it ```"
)
INVISIBLE = "\u200b\u200b"

BAD_INPUTS: dict[str, BadInput] = {
    "ask: whitespace only": BadInput("   \t  ", "ask", "Please write a question."),
    "ask: zero-width only": BadInput(INVISIBLE, "ask", "Please write a question."),
    "ask: invisible mix": BadInput(" \u200b\u2060\ufeff\u200d ", "ask", "Please write a question."),
    "message: zero-width only": BadInput(INVISIBLE, "message", "Please write a question."),
    "message: invisible mix": BadInput("\u200b \u2060\ufeff\u00ad", "message", "Please write a question."),
    "message: zero-width only, zh game": BadInput(INVISIBLE, "message", "请写下你的问题。", language="zh"),
    "ask: 4,000 characters": BadInput("Was it " + "very " * 799, "ask", f"at most {MAX_QUESTION} characters"),
    "message: 1,999 characters": BadInput("Was it " + "x" * 1992, "message", f"at most {MAX_QUESTION} characters"),
    "message: just over the limit after cleaning": BadInput(
        "\u200b" + "w" * (MAX_QUESTION + 1), "message", f"at most {MAX_QUESTION} characters"
    ),
    "message: right-to-left": BadInput("האם הוא מת? هل مات؟", "message", "answer"),
    "message: bidi overrides": BadInput(
        "\u202eIs he alive?\u202c \u2067ok\u2069", "message", "answer", asked="Is he alive? \u2067ok\u2069"
    ),
    "ask: right-to-left override": BadInput("\u202e?evila eh sI", "ask", "answer", asked="?evila eh sI"),
    "message: code block": BadInput(CODE, "message", "answer"),
    "ask: code block": BadInput(CODE, "ask", "answer"),
    "message: markdown": BadInput(MARKDOWN, "message", "answer"),
    "ask: markdown": BadInput(MARKDOWN, "ask", "answer"),
    "message: @everyone and a role": _everyone("message"),
    "ask: @everyone and a role": _everyone("ask"),
    "message: emoji only": BadInput("🐢🐢🐢", "message", "answer"),
    "ask: emoji only": BadInput("🤔❓🔫💧", "ask", "answer"),
    "message: custom emoji only": BadInput(
        "<:turtle:123456789012345678> <a:spin:123456789012345679>", "message", "answer"
    ),
    "message: combining marks": BadInput("W̴̢a̸s̷ ̶h̵e̸ ̷a̷l̸i̵v̴e̷?̶", "message", "answer"),
    "message: NUL and control characters": BadInput("Is it\x00 poison?\x07\x1b[31m", "message", "answer"),
    "message: many blank lines": BadInput("Was it\n\n\n\n\n\n\n\n\n\nraining?", "message", "answer"),
}
BAD_INPUT_COUNT = len(BAD_INPUTS)


async def game_state(redis_url: str) -> tuple[dict[str, str], list[dict]]:
    return await only_game(redis_url), await exchanges(redis_url)


def assert_intact(game: dict[str, str], entries: list[dict], questions: int) -> None:
    assert game["status"] == "active"
    assert game["answer"] and game["story"] and game["game_id"]
    assert int(game["questions"]) == questions == len(entries)
    for entry in entries:
        assert isinstance(entry, dict)
        assert isinstance(entry["q"], str) and entry["q"].strip()
        assert isinstance(entry["r"], str)
        assert entry["v"] in ("yes", "no", "irrelevant")


def unescaped(text: str) -> str:
    """Markdown as Discord reads it: escaped characters taken out."""
    return re.sub(r"\\.", "", text)


def assert_mentions_suppressed(table: Table, since: int) -> None:
    posts = [r for r in table.env.http_requests[since:] if r.method in ("POST", "PATCH") and r.json is not None]
    assert posts
    for request in posts:
        payload = request.json.get("data", request.json) if "callback" in request.path else request.json
        allowed = payload.get("allowed_mentions")
        assert allowed is not None and allowed.get("parse") == [], (request.method, request.path)
        assert not allowed.get("roles") and not allowed.get("users") and not allowed.get("replied_user")


def assert_nobody_pinged(table: Table, message_id: int) -> None:
    """What Discord would notify for the message as stored (mentions may be listed, but nobody is pinged)."""
    stored = table.env.backend.messages[table.channel.id][message_id]
    assert not stored.mention_everyone and not stored.ping_user_ids and not stored.ping_role_ids


@pytest.mark.parametrize("case", list(BAD_INPUTS))
async def test_bad_input_gets_a_clear_message_or_an_answer_and_corrupts_nothing(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, case: str
) -> None:
    bad = BAD_INPUTS[case]
    role = table.channel.guild.create_role("Detectives", mentionable=True)
    text = bad.text.replace("{role}", str(role.id))
    await start_game(table, bad.language)
    fake_upstream.default = Reply.text("No." if bad.language == "en" else "否。")
    fake_upstream.queue(Reply.text("Yes." if bad.language == "en" else "是。"))  # the first question, bad or not
    await table.alice.send(table.channel, "Is he alive?")
    game_before, entries = await game_state(redis_url)
    assert_intact(game_before, entries, 1)
    since, calls = len(table.env.http_requests), len(fake_upstream.requests)

    if bad.via == "ask":
        result = await table.bob.slash(table.channel, "ask", question=text)
        content = result.response.content
        if bad.expect == "answer":
            assert not result.ephemeral
            # The reply line is intact, whatever the question held.
            assert content.startswith("**bob asked:** ") and content.endswith("\n❌ No.")
            heading = content.removesuffix("\n❌ No.")
            # The question cannot break the formatting: only the heading's own bold remains as markdown.
            shown = unescaped(heading)
            assert shown.count("**") == 2 and not any(mark in shown for mark in ("`", "__", "~~", "||"))
            assert not re.search(r"^\s*[#>-]", content, re.MULTILINE)  # no heading, quote or list (unescaped)
            assert_nobody_pinged(table, table.channel.last_message.id)
        else:
            assert result.ephemeral and bad.expect in content
    else:
        question = await table.bob.send(table.channel, text)
        reply = bot_replies(table)[-1]
        assert reply.reference is not None and reply.reference.message_id == question.id
        if bad.expect == "answer":
            assert reply.content == ("❌ No." if bad.language == "en" else "❌ 否。")
        else:
            assert bad.expect in reply.content
        assert_nobody_pinged(table, reply.id)
    assert_mentions_suppressed(table, since)

    answered = bad.expect == "answer"
    assert len(fake_upstream.requests) == calls + answered  # refusals never reach the model
    if answered:
        sent = fake_upstream.requests[-1]["messages"][-1]["content"]
        assert sent.startswith(bad.asked if bad.asked is not None else text.strip())
    game, entries = await game_state(redis_url)
    assert_intact(game, entries, 1 + answered)
    assert game["game_id"] == game_before["game_id"]
    if answered:  # stored as asked: cleaned of invisible characters, otherwise as written
        assert entries[-1]["q"] == (bad.asked if bad.asked is not None else text.strip())

    # The next ordinary question works as if nothing had happened.
    fake_upstream.queue(Reply.text("Yes." if bad.language == "en" else "是。"))
    await table.alice.send(table.channel, "Was it at night?")
    assert bot_replies(table)[-1].content == ("✅ Yes." if bad.language == "en" else "✅ 是。")
    game, entries = await game_state(redis_url)
    assert_intact(game, entries, 2 + answered)
    assert entries[-1]["q"] == "Was it at night?"


async def test_a_4000_character_message_is_refused_by_discord_or_gets_a_notice(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    text = "Was it " + "very " * 799
    try:
        await table.bob.send(table.channel, text)
    except (simcord.BackendError, simcord.SetupError) as refused:
        print(f"\nSimCord refuses a 4,000-character message: {refused}")
        return  # Discord itself refuses messages over 2,000 characters (without Nitro): nothing reaches the bot
    assert f"at most {MAX_QUESTION} characters" in bot_replies(table)[-1].content
    assert fake_upstream.requests == []
    assert_intact(*await game_state(redis_url), 0)


def test_bad_input_count() -> None:
    assert BAD_INPUT_COUNT >= 20
    print(f"\nbad inputs tried through the bot: {BAD_INPUT_COUNT} (+1 4,000-character message)")


# -- files with mistakes the config and pack tests leave out ------------------------------------------------------


def test_tab_indented_config_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("game:\n\tdefault_language: zh\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.yaml: line 2, column 1: invalid YAML"):
        load_config(path, environ={})


def test_non_utf8_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes("game:\n  chatter_prefix: '§§'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"config\.yaml: cannot read"):
        load_config(path, environ={})


def test_config_given_as_a_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path}: cannot read")):
        load_config(tmp_path, environ={})


def test_config_saved_with_a_bom_and_crlf_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes("\ufeffgame:\r\n  default_language: zh\r\n".encode())
    assert load_config(path, environ={}).game.default_language == "zh"


PACK = "puzzles:\n  - id: lamp\n    language: en\n    title: The Lamp\n    story: A lamp.\n    answer: A keeper.\n"


def test_pack_given_as_a_directory_names_it(tmp_path: Path) -> None:
    (tmp_path / "packs").mkdir()
    with pytest.raises(PuzzleError, match=re.escape(f"{tmp_path / 'packs'}: cannot read puzzle pack")):
        load_bank(["packs"], include_builtin=True, base=tmp_path)


def test_non_utf8_and_tab_indented_packs_are_named_together(tmp_path: Path) -> None:
    (tmp_path / "latin.yaml").write_bytes(PACK.replace("A lamp.", "Une lampe à pétrole.").encode("latin-1"))
    (tmp_path / "tabs.yaml").write_text(PACK.replace("    title", "\ttitle"), encoding="utf-8")
    with pytest.raises(PuzzleError) as caught:
        load_bank(["latin.yaml", "tabs.yaml"], include_builtin=True, base=tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / 'latin.yaml'}: cannot read puzzle pack" in message
    assert f"{tmp_path / 'tabs.yaml'}: line" in message and "invalid YAML" in message
