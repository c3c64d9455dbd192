"""What the bot says about appeals, in both languages (merged into bot.texts.TEXTS)."""

from __future__ import annotations

APPEAL_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "appeal_button": "Appeal",
        "appeal_judging": "⚖️ *{who} contests the verdict on “{question}”: the host is judging it again…*",
        "appeal_changed": "⚖️ **{who}** contested the verdict on “{question}”: on a second look the host changed it "
        "from **{before}** to **{after}**.",
        "appeal_upheld": "⚖️ **{who}** contested the verdict on “{question}”: on a second look the host kept "
        "**{before}**.",
        "appeal_note": "*⚖️ Changed on appeal.*",
        "appeal_taken_back": "{count} key fact(s) this question had found no longer count.",
        "appeal_off": "Appeals are turned off here.",
        "appeal_no_game": "No game is running in this channel.",
        "appeal_gone": "That verdict belongs to a game that is over, so it can no longer be contested.",
        "appeal_ended": "This game has ended, so its verdicts can no longer be contested.",
        "appeal_none_yours": "You have no verdict in this game to contest.",
        "appeal_not_found": "That verdict is no longer in this game's record, so it cannot be contested.",
        "appeal_not_yours": "Only the player who asked, or someone with Manage Messages, can contest this verdict.",
        "appeal_no_verdict": "Only a Yes, No or Irrelevant can be contested.",
        "appeal_again": "This verdict has already been contested (or is being judged again right now).",
        "appeal_window": "Too late: a verdict can be contested for {seconds} second(s) after it is given.",
        "appeal_limit": "This game's appeals are used up ({allowed} per game).",
        "appeal_unavailable": "⚠️ The host can't judge the appeal right now. It was not counted; please try again "
        "in a moment.",
        "appeal_busy": "⚠️ The host is answering too many questions right now. The appeal was not counted; please "
        "try again in a moment.",
        "appeal_ended_meanwhile": "The game ended while the host was judging again, so nothing changed.",
        "summary_appeals": "⚖️ Appeals: {appeals} ({changed} verdict(s) changed)",
    },
    "zh": {
        "appeal_button": "申诉",
        "appeal_judging": "⚖️ *{who} 对“{question}”的判定提出申诉：主持人正在重新判定……*",
        "appeal_changed": "⚖️ **{who}** 对“{question}”的判定提出申诉：主持人复核后将判定由 **{before}** "
        "改为 **{after}**。",
        "appeal_upheld": "⚖️ **{who}** 对“{question}”的判定提出申诉：主持人复核后维持 **{before}**。",
        "appeal_note": "*⚖️ 申诉后改判。*",
        "appeal_taken_back": "这个问题之前找到的 {count} 个关键事实不再计入。",
        "appeal_off": "本服务器未开启申诉。",
        "appeal_no_game": "这个频道没有进行中的游戏。",
        "appeal_gone": "这个判定属于一局已经结束的游戏，不能再申诉。",
        "appeal_ended": "本局游戏已经结束，判定不能再申诉。",
        "appeal_none_yours": "你在本局没有可以申诉的判定。",
        "appeal_not_found": "这个判定已不在本局记录中，无法申诉。",
        "appeal_not_yours": "只有提问的玩家或拥有“管理消息”权限的成员可以对这个判定申诉。",
        "appeal_no_verdict": "只有“是”“否”“无关”的判定可以申诉。",
        "appeal_again": "这个判定已经申诉过了（或正在重新判定）。",
        "appeal_window": "太晚了：判定给出后 {seconds} 秒内才能申诉。",
        "appeal_limit": "本局的申诉次数已用完（每局 {allowed} 次）。",
        "appeal_unavailable": "⚠️ 主持人现在无法复核申诉。本次不计，请稍后再试。",
        "appeal_busy": "⚠️ 主持人此刻要回答的问题太多。本次申诉不计，请稍后再试。",
        "appeal_ended_meanwhile": "主持人复核期间游戏已经结束，判定没有改变。",
        "summary_appeals": "⚖️ 申诉：{appeals} 次（改判 {changed} 次）",
    },
}
