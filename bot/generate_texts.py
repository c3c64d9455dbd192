"""What the bot says about generated puzzles (/puzzle generate), in both languages."""

from __future__ import annotations

GENERATE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "draft_intro": "A new puzzle drafted by **{model}** ({tried} draft(s) tried). Only you can see this; "
        "**Approve** adds it to this server's puzzles, where /play can pick it.",
        "answer_title": "Answer (only you can see it)",
        "key_facts": "Key facts",
        "hints": "Hints",
        "footer": "{language} · {difficulty} · written by {model}",
        "approve": "Approve",
        "regenerate": "Regenerate",
        "discard": "Discard",
        "approved": "Added **{title}** (`{id}`, {language}, {difficulty}, written by {model}); /play can now pick "
        "it here. This server has {total} puzzle(s).",
        "discarded": "Discarded the draft; nothing was stored.",
        "failed": "The host could not write a usable puzzle in {count} draft(s); nothing was stored. "
        "Why each draft was refused:\n{reasons}\nTry again, perhaps with another theme.",
        "unavailable": "The host model can't be reached right now ({reason}); nothing was stored. "
        "Please try again shortly.",
        "not_yours": "Only the member who asked for this draft can use its buttons.",
    },
    "zh": {
        "draft_intro": "**{model}** 写好了一道新谜题（共尝试 {tried} 稿）。只有你能看到这条消息；"
        "点 **通过** 就会加入本服务器的谜题，/play 可以抽到它。",
        "answer_title": "汤底（只有你能看到）",
        "key_facts": "关键事实",
        "hints": "提示",
        "footer": "{language} · {difficulty} · 由 {model} 创作",
        "approve": "通过",
        "regenerate": "重新生成",
        "discard": "丢弃",
        "approved": "已添加 **{title}**（`{id}`，{language}，{difficulty}，由 {model} 创作）；"
        "/play 现在可以在这里抽到它。本服务器共有 {total} 道谜题。",
        "discarded": "已丢弃这份草稿，没有保存任何内容。",
        "failed": "主持模型试了 {count} 稿，都没能写出可用的谜题，没有保存任何内容。每一稿被拒的原因：\n{reasons}\n"
        "请再试一次，也可以换个主题。",
        "unavailable": "暂时连不上主持模型（{reason}），没有保存任何内容。请稍后再试。",
        "not_yours": "只有请求这份草稿的成员可以使用这些按钮。",
    },
}


def say_generated(language: str, key: str, /, **values: object) -> str:
    return GENERATE_TEXTS.get(language, GENERATE_TEXTS["en"])[key].format(**values)
