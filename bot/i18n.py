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
    "Get a hint (a few per game)": "获取一个提示（每局有限）",
    "Puzzle difficulty: easy, medium or hard": "谜题难度：easy（简单）、medium（中等）或 hard（困难）",
}


class Translator(app_commands.Translator):
    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        if locale is discord.Locale.chinese:
            return ZH_CN.get(string.message)
        return None
