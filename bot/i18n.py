"""zh-CN localisations of slash command descriptions (names stay English so they are easy to type)."""

from __future__ import annotations

import discord
from discord import app_commands

ZH_CN = {
    "Start a lateral-thinking puzzle in this channel": "在本频道开始一局海龟汤",
    "Puzzle language: en or zh": "谜题语言：en（英文）或 zh（中文）",
    "Reveal the answer and start a new puzzle": "揭晓汤底并开始新的一题",
    "Reveal the answer and end the game": "揭晓汤底并结束本局",
    "Ask the host a yes/no question": "向主持人提一个是/否问题",
    "Your yes/no question or your guess": "你的是/否问题或猜测",
    "This server's top players": "本服务器的排行榜",
    "week (this ISO week) or all (all time)": "week（本周）或 all（总榜）",
    "A player's solves, key facts, questions, hints and games": "玩家的破解、关键事实、提问、提示与对局数据",
    "Whose stats (yours when left out)": "查看谁的数据（不填则为你自己）",
    "This server's own puzzles (Manage Server)": "本服务器自己的谜题（需要管理服务器权限）",
    "Add a puzzle to this server (opens a form)": "为本服务器添加谜题（打开表单）",
    "Have the host model write a new puzzle for you to review": "让主持模型写一道新谜题，由你审核",
    "What the puzzle should be about (optional)": "谜题的主题（可选）",
    "easy, medium or hard": "难度：easy、medium 或 hard",
    "List this server's own puzzles": "列出本服务器自己的谜题",
    "Remove one of this server's puzzles": "删除本服务器的一道谜题",
    "The puzzle's id, as /puzzle list shows it": "谜题编号（见 /puzzle list）",
    "This server's puzzles as a puzzle pack file": "把本服务器的谜题导出为谜题包文件",
    "Add the puzzles of a puzzle pack file (YAML)": "从谜题包文件（YAML）导入谜题",
    "A puzzle pack: YAML with a `puzzles:` list": "谜题包：含 `puzzles:` 列表的 YAML 文件",
    "Show the key facts found so far": "查看已经找到的关键要点",
    "Get a hint (a few per game)": "获取一个提示（每局有限）",
    "Puzzle difficulty: easy, medium or hard": "谜题难度：easy（简单）、medium（中等）或 hard（困难）",
    "The best-rated puzzles in this server (anyone)": "本服务器评价最高的谜题（所有人可用）",
    "Only puzzles in this language: en or zh": "只看这种语言的谜题：en（英文）或 zh（中文）",
    "Contest the host's verdict on your last question": "对主持人给你上一个问题的判定提出申诉",
}


class Translator(app_commands.Translator):
    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        if locale is discord.Locale.chinese:
            return ZH_CN.get(string.message)
        return None


def ui_language(interaction: discord.Interaction) -> str:
    """The language to answer an interaction in: Chinese for a zh client, else English."""
    return "zh" if str(interaction.locale).startswith("zh") else "en"
