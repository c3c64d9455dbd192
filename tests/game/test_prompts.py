"""The host's prompt: the system prompt in the puzzle's language, and history trimmed to a budget."""

from __future__ import annotations

from bot.game.prompts import Turn, build_messages, estimate_tokens
from bot.game.puzzles import Puzzle

EN = Puzzle("p", "en", "Title", "A man asks for water and is glad to see a gun.", "He had hiccups.")
ZH = Puzzle("q", "zh", "标题", "一个男人要了一杯水，看到枪却很高兴。", "他在打嗝。")


def test_system_prompt_holds_story_answer_and_the_verdict_words() -> None:
    [system, user] = build_messages(EN, [], "Was he thirsty?", 1000)
    assert system["role"] == "system"
    assert EN.story in system["content"] and EN.answer in system["content"]
    assert all(word in system["content"] for word in ("Yes", "No", "Irrelevant", "Correct"))
    assert user == {"role": "user", "content": user["content"]} and user["content"].startswith("Was he thirsty?")
    [system_zh, _] = build_messages(ZH, [], "他渴吗？", 1000)
    assert ZH.answer in system_zh["content"] and all(w in system_zh["content"] for w in ("是", "否", "无关", "正确"))


def test_history_is_trimmed_to_the_budget_keeping_the_latest_exchanges() -> None:
    history = [Turn(f"Question number {i} about the man?", f"No. ({i})") for i in range(100)]
    messages = build_messages(EN, history, "Latest?", 200)
    assert messages[0]["role"] == "system"  # always kept, whatever the budget
    prior = messages[1:-1]
    assert prior and len(prior) < 200 and len(prior) % 2 == 0
    assert prior[-2]["content"] == "Question number 99 about the man?"  # the latest exchange survives
    assert prior[-1]["content"] == "No. (99)"
    spent = sum(estimate_tokens(m["content"]) for m in prior) + estimate_tokens("Latest?")
    assert spent <= 200
    assert [m["role"] for m in prior[:2]] == ["user", "assistant"]  # whole exchanges only


def test_a_budget_too_small_for_any_history_still_sends_system_and_question() -> None:
    messages = build_messages(EN, [Turn("x" * 500, "No.")], "Latest?", 10)
    assert [m["role"] for m in messages] == ["system", "user"]


def test_token_estimate_counts_chinese_characters_one_each() -> None:
    assert estimate_tokens("他在打嗝") >= 4
    assert estimate_tokens("a" * 35) < estimate_tokens("他" * 35)
