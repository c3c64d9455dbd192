"""What the page says, in both languages. Host replies and game notices come from bot.texts,
so the page words them exactly as the bot does."""

from __future__ import annotations

from bot import texts

LANGUAGES = [("English", "en"), ("中文", "zh")]

WEB_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "page_title": "Turtle soup",
        "intro": "# 🐢 Turtle soup\nA lateral-thinking puzzle: read the story, then ask the host yes/no questions "
        "until you can say what really happened.",
        "language": "Language",
        "question": "Your question or guess",
        "placeholder": "Ask a yes/no question…",
        "ask": "Ask",
        "new_puzzle": "New puzzle",
        "stop": "Stop (reveal the answer)",
        "hint_button": "Hint",
        "you": "you",
        "transcript": "Questions and answers",
        "solved": "🎉 **Solved** after {questions} question(s)!\n\n**Answer:** {answer}",
        "stopped": "**Answer:** {answer}",
        "ended": "This game has ended. Press **New puzzle** for another.",
        "rate_limited": "Slow down a little: try again in {seconds} second(s).",
        "too_many_games": "Too many new puzzles from your address: try again in {minutes} minute(s).",
        "login": "This page needs the shared secret: any name, and the secret as the password.",
    },
    "zh": {
        "page_title": "海龟汤",
        "intro": "# 🐢 海龟汤\n读完汤面，向主持人提出可以用“是/否”回答的问题，直到你能说出事情的真相。",
        "language": "语言",
        "question": "你的问题或猜测",
        "placeholder": "提一个是/否问题……",
        "ask": "提问",
        "new_puzzle": "新的谜题",
        "stop": "结束（揭晓汤底）",
        "hint_button": "提示",
        "you": "你",
        "transcript": "问答记录",
        "solved": "🎉 在第 {questions} 个问题时**猜中了**！\n\n**汤底：** {answer}",
        "stopped": "**汤底：** {answer}",
        "ended": "本局已经结束。点击**新的谜题**再来一题。",
        "rate_limited": "慢一点：{seconds} 秒后再试。",
        "too_many_games": "你的网络地址开的新谜题太多了：{minutes} 分钟后再试。",
        "login": "本页需要共享密码：用户名随意，密码填共享密码。",
    },
}


def web_text(language: str, key: str, **values: object) -> str:
    """The page's own words, else the bot's (thinking, too_long, hint, summary_title …)."""
    table = WEB_TEXTS.get(language, WEB_TEXTS["en"])
    if key in table:
        return table[key].format(**values)
    return texts.text(language, key, **values)
